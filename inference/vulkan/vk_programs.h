#pragma once
// Compute programs: one pipeline per embedded SPIR-V module, storage buffers bound by push
// descriptors (bindings 0..n-1) and one push-constant block whose size dispatch() checks.
#include <vulkan/vulkan.h>

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>

namespace ld::vk {

class Device;
class Buffer;

// The SPIR-V of shaders/<name>.comp, embedded at build time (empty when there is none).
std::span<const uint32_t> find_spirv(const char* name);

// A binding: a whole buffer, or a byte range of one.
struct BufferRef {
    BufferRef(const Buffer& b);  // NOLINT: implicit on purpose
    BufferRef(const Buffer& b, size_t offset, size_t range);
    VkBuffer buffer;
    VkDeviceSize offset, range;
};

class Program {
public:
    // `spec`: values of the shader's specialization constants 0, 1, ... (uint32 each).
    Program(const Device& dev, const char* name, uint32_t n_buffers, uint32_t push_size,
            std::initializer_list<uint32_t> spec = {});
    ~Program();
    Program(const Program&) = delete;
    Program& operator=(const Program&) = delete;

    const std::string& name() const { return name_; }
    uint32_t n_buffers() const { return n_buffers_; }
    uint32_t push_size() const { return push_size_; }
    VkPipeline pipeline() const { return pipeline_; }
    VkPipelineLayout layout() const { return layout_; }

private:
    const Device& dev_;
    std::string name_;
    uint32_t n_buffers_, push_size_;
    VkShaderModule module_ = VK_NULL_HANDLE;
    VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
    VkPipelineLayout layout_ = VK_NULL_HANDLE;
    VkPipeline pipeline_ = VK_NULL_HANDLE;
};

// Binds `prog`, pushes its buffers and constants and dispatches `groups` workgroups. Throws
// ld::Error when the buffer count or the push-constant size does not match the program.
void dispatch_raw(const Device& dev, VkCommandBuffer cmd, const Program& prog,
                  std::initializer_list<BufferRef> buffers, const void* push, uint32_t push_size,
                  uint32_t gx, uint32_t gy = 1, uint32_t gz = 1);

template <typename PC>
void dispatch(const Device& dev, VkCommandBuffer cmd, const Program& prog,
              std::initializer_list<BufferRef> buffers, const PC& push, uint32_t gx,
              uint32_t gy = 1, uint32_t gz = 1) {
    dispatch_raw(dev, cmd, prog, buffers, &push, uint32_t(sizeof(PC)), gx, gy, gz);
}

}  // namespace ld::vk
