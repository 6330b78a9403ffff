#include "inference/vulkan/vk_programs.h"

#include <vector>

#include "inference/core/error.h"
#include "inference/vulkan/vk_device.h"
#include "inference/vulkan/vk_resources.h"

namespace ld::vk {

BufferRef::BufferRef(const Buffer& b) : buffer(b.handle()), offset(0), range(VK_WHOLE_SIZE) {}
BufferRef::BufferRef(const Buffer& b, size_t off, size_t r) : buffer(b.handle()), offset(off), range(r) {}

Program::Program(const Device& dev, const char* name, uint32_t n_buffers, uint32_t push_size,
                 std::initializer_list<uint32_t> spec)
    : dev_(dev), name_(name), n_buffers_(n_buffers), push_size_(push_size) {
    const std::span<const uint32_t> code = find_spirv(name);
    if (code.empty()) fail("Vulkan: shader ", name, " is not embedded in this build");
    VkDevice d = dev.device();
    VkShaderModuleCreateInfo sci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    sci.codeSize = code.size_bytes();
    sci.pCode = code.data();
    check(vkCreateShaderModule(d, &sci, nullptr, &module_), "vkCreateShaderModule");

    std::vector<VkDescriptorSetLayoutBinding> bindings(n_buffers);
    for (uint32_t i = 0; i < n_buffers; ++i)
        bindings[i] = {i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
    VkDescriptorSetLayoutCreateInfo dci{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    dci.flags = VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR;
    dci.bindingCount = n_buffers;
    dci.pBindings = bindings.data();
    check(vkCreateDescriptorSetLayout(d, &dci, nullptr, &set_layout_), "vkCreateDescriptorSetLayout");

    VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, push_size};
    VkPipelineLayoutCreateInfo lci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    lci.setLayoutCount = 1;
    lci.pSetLayouts = &set_layout_;
    lci.pushConstantRangeCount = push_size ? 1 : 0;
    lci.pPushConstantRanges = &range;
    check(vkCreatePipelineLayout(d, &lci, nullptr, &layout_), "vkCreatePipelineLayout");

    VkComputePipelineCreateInfo pci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    pci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
    pci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    pci.stage.module = module_;
    pci.stage.pName = "main";
    const std::vector<uint32_t> values(spec);
    std::vector<VkSpecializationMapEntry> entries;
    for (uint32_t i = 0; i < values.size(); ++i) entries.push_back({i, i * 4u, 4});
    VkSpecializationInfo si{uint32_t(entries.size()), entries.data(), values.size() * 4, values.data()};
    if (!values.empty()) pci.stage.pSpecializationInfo = &si;
    pci.layout = layout_;
    check(vkCreateComputePipelines(d, VK_NULL_HANDLE, 1, &pci, nullptr, &pipeline_), "vkCreateComputePipelines");
}

Program::~Program() {
    VkDevice d = dev_.device();
    vkDestroyPipeline(d, pipeline_, nullptr);
    vkDestroyPipelineLayout(d, layout_, nullptr);
    vkDestroyDescriptorSetLayout(d, set_layout_, nullptr);
    vkDestroyShaderModule(d, module_, nullptr);
}

void dispatch_raw(const Device& dev, VkCommandBuffer cmd, const Program& prog,
                  std::initializer_list<BufferRef> buffers, const void* push, uint32_t push_size,
                  uint32_t gx, uint32_t gy, uint32_t gz) {
    if (push_size != prog.push_size())
        fail("Vulkan: ", prog.name(), " takes ", prog.push_size(), " bytes of push constants, got ", push_size);
    if (buffers.size() != prog.n_buffers())
        fail("Vulkan: ", prog.name(), " takes ", prog.n_buffers(), " buffers, got ", buffers.size());
    const uint32_t max_groups = dev.limits().maxComputeWorkGroupCount[0];
    if (gx > max_groups || gy > dev.limits().maxComputeWorkGroupCount[1] ||
        gz > dev.limits().maxComputeWorkGroupCount[2])
        fail("Vulkan: ", prog.name(), " dispatch of ", gx, "x", gy, "x", gz, " exceeds the device limits");
    if (gx == 0 || gy == 0 || gz == 0) return;
    VkDescriptorBufferInfo infos[8];
    VkWriteDescriptorSet writes[8];
    if (buffers.size() > 8) fail("Vulkan: more than 8 buffers in one dispatch");
    uint32_t i = 0;
    for (const BufferRef& b : buffers) {
        infos[i] = {b.buffer, b.offset, b.range};
        writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
        writes[i].dstBinding = i;
        writes[i].descriptorCount = 1;
        writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        writes[i].pBufferInfo = &infos[i];
        ++i;
    }
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, prog.pipeline());
    dev.push_descriptor_set(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, prog.layout(), 0, i, writes);
    if (push_size) vkCmdPushConstants(cmd, prog.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, push_size, push);
    vkCmdDispatch(cmd, gx, gy, gz);
}

}  // namespace ld::vk
