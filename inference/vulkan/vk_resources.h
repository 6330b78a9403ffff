#pragma once
// Buffers (device-local or host-visible), a one-shot command stream with its fence, and weight
// uploads through a staging buffer.
#include <vulkan/vulkan.h>

#include <cstddef>
#include <cstdint>
#include <functional>

namespace ld::vk {

class Device;
struct MemoryCounter;

// A storage buffer with its own memory. Move-only; frees itself.
class Buffer {
public:
    enum class Kind { device, host };  // host: host-visible and coherent, persistently mapped
    Buffer() = default;
    Buffer(const Device& dev, size_t bytes, Kind kind);
    ~Buffer();
    Buffer(Buffer&& o) noexcept { *this = std::move(o); }
    Buffer& operator=(Buffer&& o) noexcept;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;

    VkBuffer handle() const { return buffer_; }
    size_t size() const { return size_; }
    void* mapped() const { return mapped_; }  // host buffers only
    explicit operator bool() const { return buffer_ != VK_NULL_HANDLE; }

private:
    void release();
    VkDevice device_ = VK_NULL_HANDLE;
    VkBuffer buffer_ = VK_NULL_HANDLE;
    VkDeviceMemory memory_ = VK_NULL_HANDLE;
    MemoryCounter* counter_ = nullptr;  // the Device's; outlives every Buffer of that Device
    uint64_t allocated_ = 0;            // bytes counted for memory_ (the driver's rounded size)
    size_t size_ = 0;
    void* mapped_ = nullptr;
    bool host_ = false;  // Kind::host (counted in MemoryCounter::host_bytes too)
};

// One primary command buffer recorded, submitted once and waited on with a fence.
class Commands {
public:
    explicit Commands(const Device& dev);
    ~Commands();
    Commands(const Commands&) = delete;
    Commands& operator=(const Commands&) = delete;

    VkCommandBuffer begin();  // resets and starts recording
    void submit_and_wait();   // end(), submit(), wait()
    // The steps of submit_and_wait(), so a caller can record the next buffer while this one runs.
    void end();     // makes shader writes visible to the host after the fence; ends recording
    void submit();  // an ended buffer, signalling the fence
    void wait();
    // Every earlier shader/transfer write is visible to every later shader/transfer access.
    void barrier();

private:
    const Device& dev_;
    VkCommandPool pool_ = VK_NULL_HANDLE;
    VkCommandBuffer cmd_ = VK_NULL_HANDLE;
    VkFence fence_ = VK_NULL_HANDLE;
};

// Copies host bytes into device buffers through a reused staging buffer (chunked).
class Uploader {
public:
    Uploader(const Device& dev, size_t staging_bytes = size_t(64) << 20);
    void upload(const Buffer& dst, const void* src, size_t bytes, size_t dst_offset = 0);

private:
    const Device& dev_;
    Buffer staging_;
    Commands cmds_;
};

}  // namespace ld::vk
