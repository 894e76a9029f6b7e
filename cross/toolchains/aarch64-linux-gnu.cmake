# Gateway build for 64-bit ARM (Raspberry Pi 3/4/5 with arm64 Debian / Raspberry Pi OS 64-bit).
set(PVFLEET_TRIPLET aarch64-linux-gnu)
set(PVFLEET_ARCH arm64)
set(PVFLEET_PROCESSOR aarch64)
set(PVFLEET_QEMU /usr/bin/qemu-aarch64-static)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
