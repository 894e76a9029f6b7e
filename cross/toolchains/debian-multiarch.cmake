# Common part of the gateway cross toolchains. The including file sets PVFLEET_TRIPLET, PVFLEET_ARCH,
# PVFLEET_PROCESSOR and PVFLEET_QEMU. Target libraries come from a Debian sysroot made by
# cross/make-sysroot (default /opt/pvfleet-sysroot/<arch>, or $PVFLEET_SYSROOT).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${PVFLEET_PROCESSOR})
set(CMAKE_C_COMPILER ${PVFLEET_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${PVFLEET_TRIPLET}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${PVFLEET_TRIPLET})
# -O2 as Debian builds its own packages: faster to compile on 2 cores than -O3, and what the gateway runs.
set(CMAKE_CXX_FLAGS_RELEASE_INIT "-O2 -DNDEBUG")

if(DEFINED ENV{PVFLEET_SYSROOT})
  set(CMAKE_SYSROOT $ENV{PVFLEET_SYSROOT})
else()
  set(CMAKE_SYSROOT /opt/pvfleet-sysroot/${PVFLEET_ARCH})
endif()
if(NOT EXISTS ${CMAKE_SYSROOT}/usr/lib/${PVFLEET_TRIPLET})
  message(FATAL_ERROR "no ${PVFLEET_ARCH} sysroot at ${CMAKE_SYSROOT}: run cross/make-sysroot ${PVFLEET_ARCH} (as root)")
endif()

# Everything the target links is looked up in the sysroot only; programs (compilers, pkg-config) on the host.
set(CMAKE_FIND_ROOT_PATH ${CMAKE_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(ENV{PKG_CONFIG_LIBDIR} "${CMAKE_SYSROOT}/usr/lib/${PVFLEET_TRIPLET}/pkgconfig:${CMAKE_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} ${CMAKE_SYSROOT})
set(ENV{PKG_CONFIG_PATH} "")

# ctest runs the target's test binaries under qemu-user, with the sysroot as the loader's prefix.
set(CMAKE_CROSSCOMPILING_EMULATOR ${PVFLEET_QEMU} -L ${CMAKE_SYSROOT})
