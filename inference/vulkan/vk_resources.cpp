#include "inference/vulkan/vk_resources.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "inference/core/error.h"
#include "inference/vulkan/vk_device.h"

namespace ld::vk {

Buffer::Buffer(const Device& dev, size_t bytes, Kind kind) : device_(dev.device()), size_(bytes) {
    VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bci.size = std::max<size_t>(bytes, 4);
    bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    check(vkCreateBuffer(device_, &bci, nullptr, &buffer_), "vkCreateBuffer");
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(device_, buffer_, &req);
    uint32_t type = UINT32_MAX;
    if (kind == Kind::host) {
        type = dev.memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                                       VK_MEMORY_PROPERTY_HOST_COHERENT_BIT |
                                                       VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
        if (type == UINT32_MAX)
            type = dev.memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                                           VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    } else {
        type = dev.memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    }
    if (type == UINT32_MAX) {
        release();
        fail("Vulkan: no suitable memory type for a ", bytes, "-byte buffer");
    }
    VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    mai.allocationSize = req.size;
    mai.memoryTypeIndex = type;
    const VkResult r = vkAllocateMemory(device_, &mai, nullptr, &memory_);
    if (r != VK_SUCCESS) {
        release();
        if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
            fail("Vulkan: out of ", kind == Kind::host ? "host" : "device", " memory allocating ",
                 bytes >> 20, " MiB (", dev.info().name, ")");
        check(r, "vkAllocateMemory");
    }
    counter_ = &dev.memory_counter();
    allocated_ = req.size;
    counter_->bytes += allocated_;
    counter_->allocations += 1;
    host_ = kind == Kind::host;
    if (host_) counter_->host_bytes += allocated_;
    // A throwing constructor runs no destructor: free here or the memory (and its count) leaks.
    VkResult b = vkBindBufferMemory(device_, buffer_, memory_, 0);
    if (b == VK_SUCCESS && kind == Kind::host) b = vkMapMemory(device_, memory_, 0, VK_WHOLE_SIZE, 0, &mapped_);
    if (b != VK_SUCCESS) {
        release();
        check(b, kind == Kind::host ? "vkBindBufferMemory/vkMapMemory" : "vkBindBufferMemory");
    }
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
    if (this != &o) {
        release();
        device_ = std::exchange(o.device_, VK_NULL_HANDLE);
        buffer_ = std::exchange(o.buffer_, VK_NULL_HANDLE);
        memory_ = std::exchange(o.memory_, VK_NULL_HANDLE);
        counter_ = std::exchange(o.counter_, nullptr);
        allocated_ = std::exchange(o.allocated_, 0);
        size_ = std::exchange(o.size_, 0);
        mapped_ = std::exchange(o.mapped_, nullptr);
        host_ = std::exchange(o.host_, false);
    }
    return *this;
}

Buffer::~Buffer() { release(); }

void Buffer::release() {
    if (buffer_) vkDestroyBuffer(device_, buffer_, nullptr);
    if (memory_) {
        vkFreeMemory(device_, memory_, nullptr);  // unmaps too
        counter_->bytes -= allocated_;
        counter_->allocations -= 1;
        if (host_) counter_->host_bytes -= allocated_;
    }
    counter_ = nullptr;
    allocated_ = 0;
    buffer_ = VK_NULL_HANDLE;
    memory_ = VK_NULL_HANDLE;
    mapped_ = nullptr;
    host_ = false;
}

Commands::Commands(const Device& dev) : dev_(dev) {
    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pci.queueFamilyIndex = dev.queue_family();
    check(vkCreateCommandPool(dev.device(), &pci, nullptr, &pool_), "vkCreateCommandPool");
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = pool_;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    check(vkAllocateCommandBuffers(dev.device(), &ai, &cmd_), "vkAllocateCommandBuffers");
    VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    check(vkCreateFence(dev.device(), &fci, nullptr, &fence_), "vkCreateFence");
}

Commands::~Commands() {
    vkDestroyFence(dev_.device(), fence_, nullptr);
    vkDestroyCommandPool(dev_.device(), pool_, nullptr);
}

VkCommandBuffer Commands::begin() {
    check(vkResetCommandBuffer(cmd_, 0), "vkResetCommandBuffer");
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    check(vkBeginCommandBuffer(cmd_, &bi), "vkBeginCommandBuffer");
    return cmd_;
}

void Commands::barrier() {
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                       VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    vkCmdPipelineBarrier(cmd_, stages, stages, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

void Commands::submit_and_wait() {
    end();
    submit();
    wait();
}

void Commands::end() {
    // Shader writes to host-visible memory become visible to the host after the fence.
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
    check(vkEndCommandBuffer(cmd_), "vkEndCommandBuffer");
}

void Commands::submit() {
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd_;
    check(vkResetFences(dev_.device(), 1, &fence_), "vkResetFences");
    check(vkQueueSubmit(dev_.queue(), 1, &si, fence_), "vkQueueSubmit");
}

void Commands::wait() {
    check(vkWaitForFences(dev_.device(), 1, &fence_, VK_TRUE, UINT64_MAX), "vkWaitForFences");
}

Uploader::Uploader(const Device& dev, size_t staging_bytes)
    : dev_(dev), staging_(dev, staging_bytes, Buffer::Kind::host), cmds_(dev) {}

void Uploader::upload(const Buffer& dst, const void* src, size_t bytes, size_t dst_offset) {
    const auto* p = static_cast<const uint8_t*>(src);
    for (size_t done = 0; done < bytes;) {
        const size_t n = std::min(bytes - done, staging_.size());
        std::memcpy(staging_.mapped(), p + done, n);
        VkCommandBuffer cmd = cmds_.begin();
        VkBufferCopy region{0, dst_offset + done, n};
        vkCmdCopyBuffer(cmd, staging_.handle(), dst.handle(), 1, &region);
        cmds_.submit_and_wait();
        done += n;
    }
}

}  // namespace ld::vk
