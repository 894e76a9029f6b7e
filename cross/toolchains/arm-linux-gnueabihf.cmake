# Gateway build for 32-bit ARMv7 hard-float (armhf Debian / Raspberry Pi OS 32-bit).
set(PVFLEET_TRIPLET arm-linux-gnueabihf)
set(PVFLEET_ARCH armhf)
set(PVFLEET_PROCESSOR armv7l)
set(PVFLEET_QEMU /usr/bin/qemu-arm-static)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
# GCC notes that the ARM ABI for passing some aggregates changed in GCC 7.1; everything here is built by one
# compiler, so the note is noise.
set(CMAKE_CXX_FLAGS_INIT "-Wno-psabi")
