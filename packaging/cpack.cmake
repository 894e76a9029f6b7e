# Debian packages with CPack's DEB generator, one package per install component (packaging/install.cmake);
# scripts/package configures, builds and runs cpack per architecture. Why CPack and not debhelper:
# docs/operations.md, "How the packages are built".

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME pvfleet)
set(CPACK_PACKAGE_VERSION ${PVFLEET_VERSION})
set(CPACK_PACKAGE_VENDOR "pvfleet")
# Empty: each package's description (below) starts with its own synopsis line; CPack would otherwise put the
# project's summary first.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "")
set(CPACK_PACKAGE_CONTACT "pvfleet maintainers <maintainers@pvfleet.invalid>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/dist)
set(CPACK_STRIP_FILES ON)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)             # <name>_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)              # Depends from dpkg-shlibdeps
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Cross builds: dpkg-shlibdeps finds the target's libraries in the sysroot, whose DEBIAN/symbols and
# DEBIAN/shlibs (cross/make-sysroot) map them to their packages.
if(CMAKE_CROSSCOMPILING AND CMAKE_SYSROOT)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS
      ${CMAKE_SYSROOT}/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE} ${CMAKE_SYSROOT}/lib/${CMAKE_LIBRARY_ARCHITECTURE})
endif()
if(PVFLEET_DEB_ARCH)
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${PVFLEET_DEB_ARCH})
endif()

set(pvfleet_debian ${CMAKE_SOURCE_DIR}/packaging/debian)
set(pvfleet_version_dep "(= ${PVFLEET_VERSION})")

set(CPACK_DEBIAN_COMMON_PACKAGE_NAME pvfleet-common)
set(CPACK_DEBIAN_COMMON_PACKAGE_ARCHITECTURE all)
set(CPACK_DEBIAN_COMMON_PACKAGE_SHLIBDEPS OFF)
set(CPACK_DEBIAN_COMMON_DESCRIPTION "pvfleet register maps and schemas
Register maps of the inverters and meters pvfleet reads over Modbus (SunSpec
models and vendor maps), with the sources and evidence for each register,
and the JSON schemas of the register maps and the gateway's site config.
Used by pvfleet-edge and pvfleet-sim.")

set(CPACK_DEBIAN_EDGE_PACKAGE_NAME pvfleet-edge)
set(CPACK_DEBIAN_EDGE_PACKAGE_DEPENDS "pvfleet-common ${pvfleet_version_dep}, adduser")
# The updater keeps the running version before installing another (docs/updates.md, "The updater"): a gateway
# whose first version came from an image or a local file has no copy in apt's cache, so it rebuilds one.
set(CPACK_DEBIAN_EDGE_PACKAGE_RECOMMENDS "dpkg-repack")
set(CPACK_DEBIAN_EDGE_PACKAGE_CONTROL_EXTRA
    ${pvfleet_debian}/edge/postinst ${pvfleet_debian}/edge/prerm ${pvfleet_debian}/edge/postrm
    ${pvfleet_debian}/edge/conffiles)
set(CPACK_DEBIAN_EDGE_DESCRIPTION "pvfleet gateway agent for household solar PV sites
Runs on the site's gateway (a Raspberry-Pi-class board): polls the
inverters, meter and battery over Modbus TCP and RTU, keeps telemetry in
SQLite, detects faults and underperformance, raises maintenance tickets and
syncs everything over MQTT to the central server, buffering while the link
is down. Includes a LAN page for installers and technicians.")

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME pvfleet-server)
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_SERVER_PACKAGE_RECOMMENDS "mosquitto")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
    ${pvfleet_debian}/server/postinst ${pvfleet_debian}/server/prerm ${pvfleet_debian}/server/postrm
    ${pvfleet_debian}/server/conffiles)
set(CPACK_DEBIAN_SERVER_DESCRIPTION "pvfleet central server for solar PV fleets
Ingests telemetry and tickets from the gateways over MQTT into SQLite or
PostgreSQL, attaches them to customer records, turns tickets into work
orders and serves a REST API and a web app for back office, technicians
and managers.")

set(CPACK_DEBIAN_SIM_PACKAGE_NAME pvfleet-sim)
set(CPACK_DEBIAN_SIM_PACKAGE_DEPENDS "pvfleet-common ${pvfleet_version_dep}")
set(CPACK_DEBIAN_SIM_DESCRIPTION "pvfleet Modbus simulator of household PV inverters
Serves pvfleet's register maps over Modbus TCP and RTU with a simulated PV
day (clear-sky model, clouds, night sleep) and faults on demand, for tests,
demonstrations and installer training.")

set(CPACK_COMPONENTS_ALL common edge sim)
if(PVFLEET_BUILD_SERVER)
  list(APPEND CPACK_COMPONENTS_ALL server)
endif()
include(CPack)
