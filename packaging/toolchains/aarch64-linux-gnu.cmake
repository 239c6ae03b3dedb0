# Cross-compiles the whole product for ARMv8.2 (Jetson Xavier NX / Orin class) with
# Debian's gcc-aarch64-linux-gnu against Debian multiarch arm64 libraries (the
# `:arm64` -dev packages scripts/deps installs: headers in /usr/include, libraries and
# .pc files in /usr/lib/aarch64-linux-gnu). ctest runs the results under qemu-aarch64.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# fp16 yes, dotprod no: Xavier NX's Carmel cores have no dot-product instructions (asimddp)
set(CMAKE_C_FLAGS_INIT "-march=armv8.2-a+fp16")
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# Multiarch has no sysroot: the arm64 files live beside the host's, under / (the cross
# libc in /usr/aarch64-linux-gnu). Libraries are searched for only in those roots, and
# within them only in the aarch64-linux-gnu directories and the cross libc's.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config: the arm64 .pc files only (never the host's, whatever PKG_CONFIG_PATH says).
# Their paths are already real (prefix=/usr, libdir=/usr/lib/aarch64-linux-gnu), so no
# sysroot is prepended.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

# qemu user mode, every optional ARMv8 feature on (fp16, dotprod ...). With libc6:arm64
# installed (the arm64 libraries depend on it) its loader /lib/ld-linux-aarch64.so.1 runs
# with its own libc from /usr/lib/aarch64-linux-gnu; -L /usr/aarch64-linux-gnu would pair
# the cross toolchain's loader (another glibc build) with that multiarch libc. The prefix
# is only for an engine-only setup without libc6:arm64.
if(EXISTS /lib/ld-linux-aarch64.so.1)
  set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-cpu;max)
else()
  set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-cpu;max;-L;/usr/aarch64-linux-gnu)
endif()
