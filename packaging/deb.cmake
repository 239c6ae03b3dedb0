# The Debian package (`scripts/package`, or `cpack -G DEB` in a build configured with
# -DCMAKE_INSTALL_PREFIX=/usr): what `cmake --install` lays out, plus a conffile
# /etc/emotiond/emotiond.conf and maintainer scripts for the user, /run/emotiond and
# systemd. Depends are read from the binaries (dpkg-shlibdeps), so OpenCV is among them
# only in a build with it (-DEMOTIOND_WITH_OPENCV=ON, the default).
if(CMAKE_CROSSCOMPILING)
  return()      # the daemon is not built in this configuration
endif()
# DEP-5 copyright: the project, the trained models, YuNet's MIT licence
install(FILES ${CMAKE_CURRENT_LIST_DIR}/debian/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME emotiond)
set(CPACK_PACKAGE_CONTACT "emotiond developers <emotiond-dev@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION video)
# the summary line is the project's DESCRIPTION; cpack indents these lines
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "Captures a V4L2 camera, finds faces, classifies each face's expression with
an EmotionNet Nano network on its own SIMD engine, and publishes per-face labels
as newline-delimited JSON on a local Unix socket, with telemetry that knows the
board's power mode (Jetson nvpmodel). Includes emotionctl, the client.

The shipped expression models were trained on research-only datasets (CK+,
FER2013) and inherit that restriction; the face detector (YuNet) is MIT.")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
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
