# Install layout (GNUInstallDirs) and the build tree's staged copy of the data, one component per Debian package
# (packaging/cpack.cmake, docs/operations.md):
#   common  share/pvfleet/devices (register maps), share/pvfleet/schemas       -> pvfleet-common (all)
#   edge    bin/pvfleet-edge, pvfleet-edge{,-update}.service, pvfleet-edge-update.path,
#           /etc/pvfleet/site.json.example, share/pvfleet/release-keys   -> pvfleet-edge
#   server  bin/pvfleet-server, share/pvfleet/web, pvfleet-server.service,
#           /etc/pvfleet/server.json.example, share/pvfleet/examples            -> pvfleet-server
#   sim     bin/pvfleet-sim, share/pvfleet/sim (site and scenario files)        -> pvfleet-sim
# The programs look their data up at ../share/pvfleet beside the executable, then /usr/share/pvfleet
# (shared/util/include/pvfleet/util/data_dir.hpp).

set(PVFLEET_DATA_DIR ${CMAKE_INSTALL_DATAROOTDIR}/pvfleet)
# Configs and units are system paths for a /usr install (the packages); under any other prefix they stay inside
# it, so `cmake --install build --prefix P` writes nothing outside P.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(PVFLEET_ETC_DIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/pvfleet)   # /etc/pvfleet
  set(PVFLEET_UNIT_DIR /lib/systemd/system)                        # where Debian 12's systemd units live
else()
  set(PVFLEET_ETC_DIR ${CMAKE_INSTALL_SYSCONFDIR}/pvfleet)
  set(PVFLEET_UNIT_DIR ${CMAKE_INSTALL_LIBDIR}/systemd/system)
  if(CMAKE_INSTALL_LIBDIR MATCHES "^lib/")   # Debian's multiarch libdir: units go to lib/systemd/system
    set(PVFLEET_UNIT_DIR lib/systemd/system)
  endif()
endif()

# ---- staged data: <build>/share/pvfleet mirrors the installed share/pvfleet, next to <build>/bin ----
# Links to the source folders, made at configure time: an edited map is seen by the next test run without a
# rebuild, and a build in any folder (inside the checkout or not) finds its data without knowing the source.
set(PVFLEET_STAGE_DIR ${CMAKE_BINARY_DIR}/share/pvfleet)
function(pvfleet_stage source name)
  file(REMOVE ${PVFLEET_STAGE_DIR}/${name})
  file(CREATE_LINK ${source} ${PVFLEET_STAGE_DIR}/${name} SYMBOLIC)
endfunction()
file(MAKE_DIRECTORY ${PVFLEET_STAGE_DIR}/schemas)
pvfleet_stage(${CMAKE_SOURCE_DIR}/firmware-config/devices devices)
pvfleet_stage(${CMAKE_SOURCE_DIR}/firmware-config/sim sim)
pvfleet_stage(${CMAKE_SOURCE_DIR}/firmware-config/sites/site.schema.json schemas/site.schema.json)
if(PVFLEET_BUILD_SERVER)
  pvfleet_stage(${CMAKE_SOURCE_DIR}/server/web web)
endif()
# The Ed25519 public keys a gateway trusts for updates (docs/updates.md); a release build names the folder that
# holds the fleet's keys.
set(PVFLEET_RELEASE_KEYS_DIR "${CMAKE_SOURCE_DIR}/packaging/release-keys" CACHE PATH
    "Folder of the Ed25519 release public keys (*.pem) shipped in pvfleet-edge")
pvfleet_stage(${PVFLEET_RELEASE_KEYS_DIR} release-keys)

# ---- install rules ----
install(DIRECTORY firmware-config/devices/ DESTINATION ${PVFLEET_DATA_DIR}/devices COMPONENT common)
install(FILES firmware-config/sites/site.schema.json DESTINATION ${PVFLEET_DATA_DIR}/schemas COMPONENT common)

install(FILES firmware-config/systemd/pvfleet-edge.service firmware-config/systemd/pvfleet-edge-update.service
              firmware-config/systemd/pvfleet-edge-update.path
        DESTINATION ${PVFLEET_UNIT_DIR} COMPONENT edge)
install(DIRECTORY ${PVFLEET_RELEASE_KEYS_DIR}/ DESTINATION ${PVFLEET_DATA_DIR}/release-keys COMPONENT edge
        FILES_MATCHING PATTERN "*.pem")
# Certificate renewal (daily check) and the agent's reconnect when its certificate changes.
install(FILES firmware-config/systemd/pvfleet-edge-renew.service firmware-config/systemd/pvfleet-edge-renew.timer
              firmware-config/systemd/pvfleet-edge-credentials.path
              firmware-config/systemd/pvfleet-edge-credentials.service
        DESTINATION ${PVFLEET_UNIT_DIR} COMPONENT edge)
install(FILES firmware-config/sites/example-household.json DESTINATION ${PVFLEET_ETC_DIR}
        RENAME site.json.example COMPONENT edge)

install(DIRECTORY firmware-config/sim/ DESTINATION ${PVFLEET_DATA_DIR}/sim COMPONENT sim)

if(PVFLEET_BUILD_SERVER)
  # The web app without its development helpers (mock server, browser smoke script).
  install(DIRECTORY server/web/ DESTINATION ${PVFLEET_DATA_DIR}/web COMPONENT server PATTERN dev EXCLUDE)
  install(FILES firmware-config/systemd/pvfleet-server.service DESTINATION ${PVFLEET_UNIT_DIR} COMPONENT server)
  install(FILES firmware-config/server/example.json DESTINATION ${PVFLEET_ETC_DIR}
          RENAME server.json.example COMPONENT server)
  install(FILES firmware-config/server/postgres-example.json DESTINATION ${PVFLEET_DATA_DIR}/examples
          RENAME server-postgres.json COMPONENT server)
  install(FILES firmware-config/broker/mosquitto.conf firmware-config/broker/acl
                firmware-config/broker/pvfleet-broker-crl.path firmware-config/broker/pvfleet-broker-crl.service
          DESTINATION ${PVFLEET_DATA_DIR}/examples/broker COMPONENT server)
endif()

# Each package's /usr/share/doc/<package>: copyright, changelog.gz (gzip -9n: no name or time stamp), and the
# README the units' Documentation= points at.
set(pvfleet_doc_build ${CMAKE_BINARY_DIR}/packaging)
file(MAKE_DIRECTORY ${pvfleet_doc_build})
configure_file(packaging/debian/changelog.in ${pvfleet_doc_build}/changelog @ONLY)
execute_process(COMMAND gzip -9nc ${pvfleet_doc_build}/changelog OUTPUT_FILE ${pvfleet_doc_build}/changelog.gz)
set(pvfleet_components common edge sim)
if(PVFLEET_BUILD_SERVER)
  list(APPEND pvfleet_components server)
endif()
foreach(component IN LISTS pvfleet_components)
  set(doc ${CMAKE_INSTALL_DATAROOTDIR}/doc/pvfleet-${component})
  install(FILES packaging/debian/copyright ${pvfleet_doc_build}/changelog.gz DESTINATION ${doc} COMPONENT ${component})
  if(NOT component STREQUAL "common")
    install(FILES README.md docs/operations.md DESTINATION ${doc} COMPONENT ${component})
  endif()
endforeach()
