#include "inference/vulkan/vk_device.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "inference/core/error.h"

namespace ld::vk {

void check(VkResult r, const char* what) {
    if (r != VK_SUCCESS) fail("Vulkan: ", what, " failed (VkResult ", int(r), ")");
}

namespace {

bool has_layer(const char* name) {
    uint32_t n = 0;
    vkEnumerateInstanceLayerProperties(&n, nullptr);
    std::vector<VkLayerProperties> layers(n);
    vkEnumerateInstanceLayerProperties(&n, layers.data());
    for (const VkLayerProperties& l : layers)
        if (std::strcmp(l.layerName, name) == 0) return true;
    return false;
}

VKAPI_ATTR VkBool32 VKAPI_CALL on_validation(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                             VkDebugUtilsMessageTypeFlagsEXT,
                                             const VkDebugUtilsMessengerCallbackDataEXT* data, void*) {
    if (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT)
        std::fprintf(stderr, "vulkan validation: %s\n", data->pMessage);
    return VK_FALSE;
}

// With validation on, messages go to stderr prefixed "vulkan validation:" (tests fail on it).
VkDebugUtilsMessengerCreateInfoEXT messenger_info() {
    VkDebugUtilsMessengerCreateInfoEXT mi{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    mi.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    mi.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    mi.pfnUserCallback = on_validation;
    return mi;
}

// validation: with the Khronos layer (Tuning::vk_validation) where it is installed.
VkResult create_instance(VkInstance* out, bool validation) {
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "LlamaDesk";
    app.apiVersion = VK_API_VERSION_1_2;
    VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ci.pApplicationInfo = &app;
    const char* layer = "VK_LAYER_KHRONOS_validation";
    const char* debug_ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    const VkDebugUtilsMessengerCreateInfoEXT messenger = messenger_info();
    if (validation) {
        if (has_layer(layer)) {
            ci.enabledLayerCount = 1;
            ci.ppEnabledLayerNames = &layer;
            ci.enabledExtensionCount = 1;
            ci.ppEnabledExtensionNames = &debug_ext;
            ci.pNext = &messenger;  // covers vkCreateInstance/vkDestroyInstance and everything between
        } else {
            std::fprintf(stderr, "Vulkan validation requested but %s is not installed "
                                 "(Debian: vulkan-validationlayers)\n", layer);
        }
    }
    return vkCreateInstance(&ci, nullptr, out);
}

const char* type_name(VkPhysicalDeviceType t) {
    switch (t) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
        case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
        default: return "other";
    }
}

// A 16x16x16 f16 x f16 -> f32 subgroup entry among the device's NV cooperative matrix types.
bool has_coopmat_f16(VkInstance inst, VkPhysicalDevice pd) {
    auto get = reinterpret_cast<PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV>(
        vkGetInstanceProcAddr(inst, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV"));
    if (!get) return false;
    uint32_t n = 0;
    if (get(pd, &n, nullptr) != VK_SUCCESS || n == 0) return false;
    std::vector<VkCooperativeMatrixPropertiesNV> props(n, {VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV});
    if (get(pd, &n, props.data()) != VK_SUCCESS) return false;
    for (const VkCooperativeMatrixPropertiesNV& p : props)
        if (p.MSize == 16 && p.NSize == 16 && p.KSize == 16 && p.AType == VK_COMPONENT_TYPE_FLOAT16_NV &&
            p.BType == VK_COMPONENT_TYPE_FLOAT16_NV && p.CType == VK_COMPONENT_TYPE_FLOAT32_NV &&
            p.DType == VK_COMPONENT_TYPE_FLOAT32_NV && p.scope == VK_SCOPE_SUBGROUP_NV)
            return true;
    return false;
}

DeviceInfo describe(VkInstance inst, VkPhysicalDevice pd, int index) {
    DeviceInfo d;
    d.index = index;
    VkPhysicalDeviceSubgroupProperties sub{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &sub};
    vkGetPhysicalDeviceProperties2(pd, &props);
    const VkPhysicalDeviceProperties& p = props.properties;
    d.name = p.deviceName;
    d.vk_type = p.deviceType;
    d.type = type_name(p.deviceType);
    d.api_version = std::to_string(VK_API_VERSION_MAJOR(p.apiVersion)) + "." +
                    std::to_string(VK_API_VERSION_MINOR(p.apiVersion)) + "." +
                    std::to_string(VK_API_VERSION_PATCH(p.apiVersion));
    d.subgroup_size = sub.subgroupSize;
    d.subgroup_arithmetic = (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                            (sub.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                            (sub.supportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT);

    VkPhysicalDeviceVulkanMemoryModelFeatures vmm{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES};
    VkPhysicalDeviceShaderFloat16Int8Features f16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES, &vmm};
    VkPhysicalDevice16BitStorageFeatures s16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES, &f16};
    VkPhysicalDeviceFeatures2 feats{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &s16};
    vkGetPhysicalDeviceFeatures2(pd, &feats);
    d.fp16 = f16.shaderFloat16;
    d.int8 = f16.shaderInt8;
    d.storage16 = s16.storageBuffer16BitAccess;

    uint32_t n = 0;
    vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr);
    std::vector<VkExtensionProperties> exts(n);
    vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, exts.data());
    for (const VkExtensionProperties& e : exts) {
        if (std::strcmp(e.extensionName, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME) == 0) d.push_descriptor = true;
        if (std::strcmp(e.extensionName, "VK_NV_cooperative_matrix") == 0) d.coopmat_nv = true;
        if (std::strcmp(e.extensionName, "VK_KHR_cooperative_matrix") == 0) d.coopmat_khr = true;
        if (std::strcmp(e.extensionName, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME) == 0) d.memory_budget = true;
        if (std::strcmp(e.extensionName, VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME) == 0) d.int_dot = true;
    }
    if (d.int_dot) {
        VkPhysicalDeviceShaderIntegerDotProductFeaturesKHR dp{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES_KHR};
        VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &dp};
        vkGetPhysicalDeviceFeatures2(pd, &f2);
        VkPhysicalDeviceShaderIntegerDotProductPropertiesKHR dpp{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_PROPERTIES_KHR};
        VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &dpp};
        vkGetPhysicalDeviceProperties2(pd, &p2);
        d.int_dot = dp.shaderIntegerDotProduct;
        d.int_dot_fast = d.int_dot && dpp.integerDotProduct4x8BitPackedSignedAccelerated;
    }
    if (d.coopmat_nv && d.fp16 && vmm.vulkanMemoryModel && d.subgroup_size == 32) {
        VkPhysicalDeviceCooperativeMatrixFeaturesNV cm{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
        VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &cm};
        vkGetPhysicalDeviceFeatures2(pd, &f2);
        d.coopmat_f16 = cm.cooperativeMatrix && has_coopmat_f16(inst, pd);
    }
    VkPhysicalDeviceMemoryProperties mem;
    vkGetPhysicalDeviceMemoryProperties(pd, &mem);
    for (uint32_t i = 0; i < mem.memoryHeapCount; ++i)
        if (mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
            d.device_local_bytes = std::max<uint64_t>(d.device_local_bytes, mem.memoryHeaps[i].size);

    if (VK_API_VERSION_MINOR(p.apiVersion) < 2 && VK_API_VERSION_MAJOR(p.apiVersion) == 1)
        d.unusable = "needs Vulkan 1.2, the driver offers " + d.api_version;
    else if (!d.storage16)
        d.unusable = "lacks storageBuffer16BitAccess (16-bit storage)";
    else if (!d.push_descriptor)
        d.unusable = "lacks VK_KHR_push_descriptor";
    return d;
}

std::vector<VkPhysicalDevice> physical_devices(VkInstance inst) {
    uint32_t n = 0;
    vkEnumeratePhysicalDevices(inst, &n, nullptr);
    std::vector<VkPhysicalDevice> out(n);
    vkEnumeratePhysicalDevices(inst, &n, out.data());
    return out;
}

int rank(const DeviceInfo& d) {
    switch (d.vk_type) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
        default: return 3;
    }
}

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

std::vector<DeviceInfo> list_devices(std::string* why) {
    VkInstance inst = VK_NULL_HANDLE;
    const VkResult r = create_instance(&inst, false);  // listing only: no layer
    if (r != VK_SUCCESS) {
        if (why) *why = "no Vulkan driver (vkCreateInstance returned " + std::to_string(int(r)) + ")";
        return {};
    }
    std::vector<DeviceInfo> out;
    int i = 0;
    for (VkPhysicalDevice pd : physical_devices(inst)) out.push_back(describe(inst, pd, i++));
    vkDestroyInstance(inst, nullptr);
    if (out.empty() && why) *why = "the Vulkan driver reports no device";
    return out;
}

int choose_device(const std::vector<DeviceInfo>& devices, const std::string& selector) {
    if (devices.empty()) fail("no Vulkan device found");
    int pick = -1;
    if (selector.empty()) {
        for (const DeviceInfo& d : devices)
            if (d.unusable.empty() && (pick < 0 || rank(d) < rank(devices[size_t(pick)]))) pick = d.index;
        if (pick < 0) fail("no usable Vulkan device: ", devices[0].name, " ", devices[0].unusable);
        return pick;
    }
    const bool numeric = std::all_of(selector.begin(), selector.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    if (numeric) {
        pick = std::atoi(selector.c_str());
        if (pick >= int(devices.size()))
            fail("Vulkan device ", pick, " does not exist (", devices.size(), " found)");
    } else {
        for (const DeviceInfo& d : devices)
            if (lower(d.name).find(lower(selector)) != std::string::npos) { pick = d.index; break; }
        if (pick < 0) fail("no Vulkan device name contains '", selector, "'");
    }
    const DeviceInfo& d = devices[size_t(pick)];
    if (!d.unusable.empty()) fail("Vulkan device ", pick, " (", d.name, ") ", d.unusable);
    return pick;
}

Device::Device(const std::string& selector, const Tuning& tuning) {
    std::string why;
    const std::vector<DeviceInfo> devices = list_devices(&why);
    if (devices.empty()) fail("Vulkan backend unavailable: ", why);
    const int index = choose_device(devices, selector);
    info_ = devices[size_t(index)];
    check(create_instance(&instance_, tuning.vk_validation), "vkCreateInstance");
    if (tuning.vk_validation) {
        auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
        const VkDebugUtilsMessengerCreateInfoEXT mi = messenger_info();
        if (create) create(instance_, &mi, nullptr, &messenger_);
    }
    physical_ = physical_devices(instance_)[size_t(index)];
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(physical_, &props);
    limits_ = props.limits;
    vkGetPhysicalDeviceMemoryProperties(physical_, &memory_);

    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(physical_, &nq, nullptr);
    std::vector<VkQueueFamilyProperties> families(nq);
    vkGetPhysicalDeviceQueueFamilyProperties(physical_, &nq, families.data());
    family_ = UINT32_MAX;
    for (uint32_t i = 0; i < nq; ++i)  // prefer a compute queue without graphics (async compute)
        if ((families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) &&
            (family_ == UINT32_MAX || !(families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)))
            family_ = i;
    if (family_ == UINT32_MAX) fail("Vulkan device ", info_.name, " has no compute queue");

    const float priority = 1.0f;
    VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qci.queueFamilyIndex = family_;
    qci.queueCount = 1;
    qci.pQueuePriorities = &priority;
    VkPhysicalDevice16BitStorageFeatures s16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    s16.storageBuffer16BitAccess = VK_TRUE;
    // The tensor-core matmul (optional): its extension, f16 arithmetic and the Vulkan memory model.
    VkPhysicalDeviceCooperativeMatrixFeaturesNV cm{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
    cm.cooperativeMatrix = VK_TRUE;
    VkPhysicalDeviceVulkanMemoryModelFeatures vmm{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES, &cm};
    vmm.vulkanMemoryModel = VK_TRUE;
    VkPhysicalDeviceShaderFloat16Int8Features f16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES, &vmm};
    f16.shaderFloat16 = VK_TRUE;
    coopmat_ = info_.coopmat_f16;
    // f16 arithmetic wherever the device has it: the tensor-core matmuls need it, and so do the
    // f16 shared tiles of the emulated 128-wide-K matmul the tests run on any device.
    fp16_ = coopmat_ || info_.fp16;
    if (coopmat_) {
        s16.pNext = &f16;
    } else if (fp16_) {
        f16.pNext = nullptr;  // without the memory model and coopmat structs (their extension is off)
        s16.pNext = &f16;
    }
    // Integer dot products (optional): the int8 decode matvec. Tuning::vk_int8 false leaves them off.
    VkPhysicalDeviceShaderIntegerDotProductFeaturesKHR dp{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES_KHR};
    dp.shaderIntegerDotProduct = VK_TRUE;
    int_dot_ = info_.int_dot && tuning.vk_int8;
    if (int_dot_) {
        dp.pNext = s16.pNext;
        s16.pNext = &dp;
    }
    VkPhysicalDeviceFeatures2 feats{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &s16};
    std::vector<const char*> exts = {VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME};
    if (info_.memory_budget) exts.push_back(VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
    if (coopmat_) exts.push_back("VK_NV_cooperative_matrix");
    if (int_dot_) exts.push_back(VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &feats};
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    dci.enabledExtensionCount = uint32_t(exts.size());
    dci.ppEnabledExtensionNames = exts.data();
    const VkResult r = vkCreateDevice(physical_, &dci, nullptr, &device_);
    if (r != VK_SUCCESS) {
        vkDestroyInstance(instance_, nullptr);
        check(r, "vkCreateDevice");
    }
    vkGetDeviceQueue(device_, family_, 0, &queue_);
    push_descriptor_set = reinterpret_cast<PFN_vkCmdPushDescriptorSetKHR>(
        vkGetDeviceProcAddr(device_, "vkCmdPushDescriptorSetKHR"));
    if (!push_descriptor_set) fail("Vulkan device ", info_.name, " does not expose vkCmdPushDescriptorSetKHR");
}

Device::~Device() {
    // Buffers are members of the Device's owners and die first; anything left here is a leak
    // (the count is kept so a test holding shared_memory_counter() sees it).
    if (counter_->allocations.load() != 0)
        std::fprintf(stderr, "vulkan: %s destroyed with %llu allocations (%llu bytes) still live\n",
                     info_.name.c_str(), static_cast<unsigned long long>(counter_->allocations.load()),
                     static_cast<unsigned long long>(counter_->bytes.load()));
    if (device_) vkDestroyDevice(device_, nullptr);
    if (messenger_) {
        auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
        if (destroy) destroy(instance_, messenger_, nullptr);
    }
    if (instance_) vkDestroyInstance(instance_, nullptr);
}

std::optional<VkPhysicalDeviceMemoryBudgetPropertiesEXT> Device::memory_budget() const {
    if (!info_.memory_budget) return std::nullopt;
    VkPhysicalDeviceMemoryBudgetPropertiesEXT budget{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
    VkPhysicalDeviceMemoryProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2, &budget};
    vkGetPhysicalDeviceMemoryProperties2(physical_, &props);
    return budget;
}

std::optional<uint64_t> Device::driver_heap_usage() const {
    const auto budget = memory_budget();
    if (!budget) return std::nullopt;
    uint64_t used = 0;
    for (uint32_t i = 0; i < memory_.memoryHeapCount; ++i) used += budget->heapUsage[i];
    return used;
}

uint64_t Device::device_local_available() const {
    uint32_t heap = UINT32_MAX;
    for (uint32_t i = 0; i < memory_.memoryHeapCount; ++i)
        if ((memory_.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
            (heap == UINT32_MAX || memory_.memoryHeaps[i].size > memory_.memoryHeaps[heap].size))
            heap = i;
    if (heap == UINT32_MAX) return 0;
    if (const auto budget = memory_budget(); budget && budget->heapBudget[heap] > 0) {
        const uint64_t b = budget->heapBudget[heap], u = budget->heapUsage[heap];
        return b > u ? b - u : 0;
    }
    const uint64_t size = memory_.memoryHeaps[heap].size;
    const uint64_t used = counter_->bytes.load() - counter_->host_bytes.load();  // device-local only
    return size > used ? size - used : 0;
}

uint32_t Device::memory_type(uint32_t bits, VkMemoryPropertyFlags want) const {
    for (uint32_t i = 0; i < memory_.memoryTypeCount; ++i)
        if ((bits & (1u << i)) && (memory_.memoryTypes[i].propertyFlags & want) == want) return i;
    return UINT32_MAX;
}

}  // namespace ld::vk
