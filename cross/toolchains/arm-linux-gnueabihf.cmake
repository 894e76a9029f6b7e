# Gateway build for 32-bit ARMv7 hard-float (armhf Debian / Raspberry Pi OS 32-bit).
set(PVFLEET_TRIPLET arm-linux-gnueabihf)
set(PVFLEET_ARCH armhf)
set(PVFLEET_PROCESSOR armv7l)
set(PVFLEET_QEMU /usr/bin/qemu-arm-static)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
