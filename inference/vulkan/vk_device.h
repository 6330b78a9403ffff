#pragma once
// Vulkan instance, physical-device choice and the logical device with one compute queue.
// Nothing global: every Backend owns its Device.
#include <vulkan/vulkan.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "inference/backend/tuning.h"

namespace ld::vk {

// Throws ld::Error naming the call and the VkResult when r is not VK_SUCCESS.
void check(VkResult r, const char* what);

struct DeviceInfo {
    int index = 0;
    std::string name;
    std::string type;           // "discrete", "integrated", "virtual", "cpu", "other"
    VkPhysicalDeviceType vk_type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
    std::string api_version;    // "1.3.230"
    uint64_t device_local_bytes = 0;  // largest device-local heap
    uint32_t subgroup_size = 0;
    bool subgroup_arithmetic = false;  // subgroupAdd in compute shaders (the wide matvec)
    bool fp16 = false;          // shaderFloat16
    bool int8 = false;          // shaderInt8
    bool storage16 = false;     // storageBuffer16BitAccess (required)
    bool push_descriptor = false;     // VK_KHR_push_descriptor (required)
    bool coopmat_nv = false;    // VK_NV_cooperative_matrix
    bool coopmat_khr = false;   // VK_KHR_cooperative_matrix
    // VK_NV_cooperative_matrix lists 16x16x16 f16 x f16 -> f32 subgroup matrices, with
    // shaderFloat16, vulkanMemoryModel and 32-wide subgroups: shaders/common/matmul_coopmat.glsl runs.
    bool coopmat_f16 = false;
    bool memory_budget = false; // VK_EXT_memory_budget (driver-reported heap usage)
    // VK_KHR_shader_integer_dot_product with its feature: the int8 decode matvec
    // (shaders/common/matvec_q8.glsl) runs; `int_dot_fast`: the driver says the packed signed
    // 4x8 dot is accelerated (dp4a on NVIDIA; false on lavapipe, which still runs it).
    bool int_dot = false;
    bool int_dot_fast = false;
    // Empty when the backend can run on it, else why not.
    std::string unusable;
};

// All Vulkan devices. Empty when there is no loader, driver or device; `why` then says which.
std::vector<DeviceInfo> list_devices(std::string* why = nullptr);

// Index into list_devices() chosen by `selector` (index or case-insensitive name substring;
// empty = best usable: discrete, then integrated, then anything). Throws ld::Error with the
// reason when nothing fits.
int choose_device(const std::vector<DeviceInfo>& devices, const std::string& selector);

// What one Device currently holds through vkAllocateMemory. Every Buffer adds on allocation and
// subtracts on free, so a leak shows as a nonzero count once its owner is gone. Shared with
// callers (not a global) so a leak check can still read it after the Device is destroyed.
struct MemoryCounter {
    std::atomic<uint64_t> bytes{0};
    std::atomic<uint64_t> allocations{0};
    std::atomic<uint64_t> host_bytes{0};  // the part of `bytes` in host-visible (system) memory
};

class Device {
public:
    // `tuning`: vk_validation (the Khronos layer) and vk_int8 (integer dot products enabled).
    Device(const std::string& selector, const Tuning& tuning);
    ~Device();
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    const DeviceInfo& info() const { return info_; }
    const VkPhysicalDeviceLimits& limits() const { return limits_; }
    VkDevice device() const { return device_; }
    VkPhysicalDevice physical() const { return physical_; }
    VkQueue queue() const { return queue_; }
    uint32_t queue_family() const { return family_; }
    // Memory type with all `want` flags among `bits`; UINT32_MAX when none.
    uint32_t memory_type(uint32_t bits, VkMemoryPropertyFlags want) const;
    PFN_vkCmdPushDescriptorSetKHR push_descriptor_set = nullptr;
    // True when the device was created with VK_NV_cooperative_matrix and its features (coopmat_f16).
    bool coopmat() const { return coopmat_; }
    // True when the device was created with VK_KHR_shader_integer_dot_product (DeviceInfo::int_dot).
    bool int_dot() const { return int_dot_; }
    // True when the device was created with shaderFloat16 (f16 arithmetic in shaders).
    bool fp16() const { return fp16_; }
    MemoryCounter& memory_counter() const { return *counter_; }
    std::shared_ptr<const MemoryCounter> shared_memory_counter() const { return counter_; }
    // Sum of VK_EXT_memory_budget heapUsage over all heaps (the driver's view of this process);
    // nullopt when the device lacks the extension.
    std::optional<uint64_t> driver_heap_usage() const;
    // What this process may still allocate in the largest device-local heap: VK_EXT_memory_budget's
    // heapBudget minus heapUsage where the device has it (other programs' use counted), else the
    // heap's size minus what this device allocated.
    uint64_t device_local_available() const;

private:
    // VK_EXT_memory_budget's current figures; nullopt when the device lacks the extension.
    std::optional<VkPhysicalDeviceMemoryBudgetPropertiesEXT> memory_budget() const;

    VkInstance instance_ = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;  // Tuning::vk_validation
    VkPhysicalDevice physical_ = VK_NULL_HANDLE;
    VkDevice device_ = VK_NULL_HANDLE;
    VkQueue queue_ = VK_NULL_HANDLE;
    uint32_t family_ = 0;
    DeviceInfo info_;
    VkPhysicalDeviceLimits limits_{};
    VkPhysicalDeviceMemoryProperties memory_{};
    bool coopmat_ = false;
    bool int_dot_ = false;
    bool fp16_ = false;
    std::shared_ptr<MemoryCounter> counter_ = std::make_shared<MemoryCounter>();
};

}  // namespace ld::vk
