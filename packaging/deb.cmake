# The Debian package (`scripts/package`, or `cpack -G DEB` in a build configured with
# -DCMAKE_INSTALL_PREFIX=/usr): what `cmake --install` lays out, plus a conffile
# /etc/emotiond/emotiond.conf and maintainer scripts for the user, /run/emotiond and
# systemd. Depends are read from the binaries (dpkg-shlibdeps): libmicrohttpd12 for
# emotiond-web, libmosquitto1 for emotiond-mqtt, and OpenCV only in a build with it
# (-DEMOTIOND_WITH_OPENCV=ON, the default).
# A cross build (packaging/toolchains/*.cmake) makes the package of its target
# architecture, Depends read from that architecture's libraries (its :ARCH -dev packages
# installed; scripts/package --arch does it).
if(NOT TARGET emotiond)
  return()      # the daemon is not built in this configuration: nothing to package
endif()
# DEP-5 copyright: the project, the trained models, YuNet's MIT licence
install(FILES ${CMAKE_CURRENT_LIST_DIR}/debian/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})
# The Debian changelog, compressed at build time. The package is native (built by the
# project from its own tree, version = the program's, no Debian revision), so Debian
# policy and lintian want it as changelog.gz, not changelog.Debian.gz.
# cpack-check.cmake fails the package when its latest entry is not this version.
set(EMOTIOND_DEB_CHANGELOG ${CMAKE_CURRENT_LIST_DIR}/debian/changelog)
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/packaging/changelog.gz
  COMMAND ${CMAKE_COMMAND} -E copy ${EMOTIOND_DEB_CHANGELOG} changelog
  COMMAND gzip -9nf changelog
  DEPENDS ${EMOTIOND_DEB_CHANGELOG}
  WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/packaging
  COMMENT "Compressing the Debian changelog" VERBATIM)
add_custom_target(deb-changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/packaging/changelog.gz)
install(FILES ${CMAKE_BINARY_DIR}/packaging/changelog.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME emotiond)
# The project has no mail domain of its own yet: .example is reserved (RFC 2606), so this
# placeholder reaches nobody, and lintian accepts it (localhost it rejects). Set the real
# address here, in debian/copyright and in debian/changelog's trailer lines.
set(CPACK_PACKAGE_CONTACT "emotiond developers <emotiond-dev@emotiond.example>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION video)
# the summary line is the project's DESCRIPTION; cpack indents these lines
# (lintian: at most 80 columns with cpack's leading space)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "Captures a V4L2 camera, finds faces, classifies each face's expression
with an EmotionNet Nano network on its own SIMD engine, and publishes
per-face labels as newline-delimited JSON on a local Unix socket, with
telemetry that knows the board's power mode (Jetson nvpmodel). Includes
emotionctl, the client; emotiond-mqtt, a bridge to an MQTT broker for
fleets; and emotiond-web, a local dashboard in the browser (live plots,
current faces, an opt-in camera preview). Their services are disabled
until enabled.

The shipped expression models were trained on research-only datasets (CK+,
FER2013) and inherit that restriction; the face detector (YuNet) is MIT.")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# postinst creates the user with adduser where systemd-sysusers is absent
set(CPACK_DEBIAN_PACKAGE_DEPENDS adduser)
if(CMAKE_CROSSCOMPILING)
  # the target's Debian architecture, from the toolchain's GNU triplet
  # (aarch64-linux-gnu: arm64); cpack would otherwise name the build machine's
  execute_process(COMMAND dpkg-architecture -t ${CMAKE_LIBRARY_ARCHITECTURE} -qDEB_HOST_ARCH
                  OUTPUT_VARIABLE EMOTIOND_DEB_ARCH OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_QUIET)
  if(NOT EMOTIOND_DEB_ARCH OR NOT CMAKE_LIBRARY_ARCHITECTURE)
    message(FATAL_ERROR "emotiond: no Debian architecture for the cross target "
            "'${CMAKE_LIBRARY_ARCHITECTURE}' (the toolchain file sets "
            "CMAKE_LIBRARY_ARCHITECTURE; dpkg-architecture comes with dpkg-dev)")
  endif()
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${EMOTIOND_DEB_ARCH})
else()
  set(EMOTIOND_DEB_ARCH "")
endif()
if(EMOTIOND_WITH_OPENCV)
  # the cascade backend's Haar file is read from opencv-data at run time; the default
  # detector (YuNet on our engine) needs nothing beyond the package
  set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd, opencv-data")
else()
  set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
endif()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_LIST_DIR}/debian/conffiles ${CMAKE_CURRENT_LIST_DIR}/debian/postinst
    ${CMAKE_CURRENT_LIST_DIR}/debian/prerm ${CMAKE_CURRENT_LIST_DIR}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_STRIP_FILES TRUE)
# The unit's ExecStart and the default model path were fixed at configure time:
# a package built from another prefix would point at files it does not hold.
set(EMOTIOND_PACKAGED_PREFIX "${CMAKE_INSTALL_PREFIX}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/cpack-check.cmake.in
               ${CMAKE_BINARY_DIR}/packaging/cpack-check.cmake @ONLY)
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_BINARY_DIR}/packaging/cpack-check.cmake)
include(CPack)
