// dot4x8(a, b): the signed dot product of two words of four int8 each (OpSDot, packed 4x8;
// SPV_KHR_integer_dot_product, core in Vulkan 1.3; dp4a on NVIDIA). glslang 12 (Debian 12) has
// no GL_EXT_integer_dot_product, so the instruction is declared through GL_EXT_spirv_intrinsics:
// opcode 4450 = OpSDot, capabilities 6018 DotProductInput4x8BitPacked and 6019 DotProduct, the
// literal 0 = PackedVectorFormat4x8Bit. Only for devices that enabled the feature (vk_device.cpp).
#extension GL_EXT_spirv_intrinsics : require
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6018, 6019], id = 4450)
int dot4x8_(int a, int b, spirv_literal int packed_format);
int dot4x8(int a, int b) { return dot4x8_(a, b, 0); }
