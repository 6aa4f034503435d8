# Debian packages of Stoa, one per role (docs/packages.md): install() rules
# for each component and the CPack DEB settings. Included at the end of the
# top-level CMakeLists.txt; deploy/package.sh builds the .debs.
#
# Components (= packages):
#   master   stoa-master    /usr/sbin/stoa-master + unit + /etc/default/stoa-master
#   slave    stoa-slave     /usr/libexec/stoa/{stoa-slave,stoa-executor,stoa-http-executor,stoa-docker-executor},
#                           /usr/sbin/stoa-slave -> ../libexec/stoa/stoa-slave + unit + default
#   services stoa-services  /usr/sbin/stoa-services + unit + default
#   lb       stoa-lb        /usr/sbin/stoa-lb + unit + default
#   cli      stoa           /usr/bin/stoa, /usr/bin/stoa-execute
# The slave's --launcher_dir defaults to the directory of its own binary
# (/proc/self/exe, links resolved): the real binary lives beside the
# executors, so the default works whether it is started by the unit, through
# the /usr/sbin link, or by hand.

# `make install` and cpack install what is built; they do not build `all`
# (tests and benchmarks) first. deploy/package.sh builds the binaries.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(STOA_PACKAGING_DIR ${CMAKE_CURRENT_LIST_DIR})
set(STOA_LIBEXEC_DIR libexec/stoa)
set(STOA_UNIT_DIR /lib/systemd/system)

# The role packages: component, package name, daemon binary (none for cli).
set(STOA_DAEMON_COMPONENTS master services lb)
foreach(_role IN LISTS STOA_DAEMON_COMPONENTS)
  if(TARGET stoa-${_role})
    install(TARGETS stoa-${_role} RUNTIME DESTINATION sbin COMPONENT ${_role})
  endif()
endforeach()
if(TARGET stoa-slave)
  install(TARGETS stoa-slave stoa-executor stoa-http-executor stoa-docker-executor
          RUNTIME DESTINATION ${STOA_LIBEXEC_DIR} COMPONENT slave)
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/packaging)
  file(CREATE_LINK ../${STOA_LIBEXEC_DIR}/stoa-slave ${CMAKE_BINARY_DIR}/packaging/stoa-slave SYMBOLIC)
  install(FILES ${CMAKE_BINARY_DIR}/packaging/stoa-slave DESTINATION sbin COMPONENT slave)
endif()
if(TARGET stoa)
  install(TARGETS stoa stoa-execute RUNTIME DESTINATION bin COMPONENT cli)
endif()

# Units, /etc/default files (conffiles) and maintainer scripts per daemon.
set(STOA_PACKAGE_ROLES master slave services lb)
foreach(_role IN LISTS STOA_PACKAGE_ROLES)
  install(FILES ${STOA_PACKAGING_DIR}/systemd/stoa-${_role}.service
          DESTINATION ${STOA_UNIT_DIR} COMPONENT ${_role})
  install(FILES ${STOA_PACKAGING_DIR}/default/stoa-${_role}
          DESTINATION /etc/default COMPONENT ${_role})
  set(_control ${CMAKE_BINARY_DIR}/packaging/${_role})
  file(MAKE_DIRECTORY ${_control})
  file(WRITE ${_control}/conffiles "/etc/default/stoa-${_role}\n")
  set(STOA_ROLE ${_role})
  foreach(_script postinst prerm postrm)
    # Made 0755 by CPack (CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION).
    configure_file(${STOA_PACKAGING_DIR}/maintainer/${_script}.in ${_control}/${_script} @ONLY)
  endforeach()
  string(TOUPPER ${_role} _ROLE)
  set(CPACK_DEBIAN_${_ROLE}_PACKAGE_CONTROL_EXTRA
      ${_control}/conffiles ${_control}/postinst ${_control}/prerm ${_control}/postrm)
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME stoa)
set(CPACK_PACKAGE_VENDOR "Stoa")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Stoa maintainers <stoa@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL master slave services lb cli)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
# Library dependencies (CAF, glog, http-parser, ...) from dpkg-shlibdeps.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# deploy/package.sh may pass -D CPACK_DEBIAN_COMPRESSION_TYPE=xz for a release.
if(NOT CPACK_DEBIAN_COMPRESSION_TYPE)
  set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)
endif()

set(CPACK_DEBIAN_MASTER_PACKAGE_NAME stoa-master)
set(CPACK_COMPONENT_MASTER_DESCRIPTION
    "Stoa master (Mesos-compatible)\nThe cluster's master: slaves register with it, frameworks receive offers from it.\nSeveral masters elect a leader in ZooKeeper (--zk) for high availability.")
set(CPACK_DEBIAN_MASTER_PACKAGE_SUGGESTS zookeeper)

set(CPACK_DEBIAN_SLAVE_PACKAGE_NAME stoa-slave)
set(CPACK_COMPONENT_SLAVE_DESCRIPTION
    "Stoa slave and its executors\nOffers this machine's resources to the master and runs tasks with\nstoa-executor or stoa-http-executor (commands) and stoa-docker-executor (docker.io, --containerizers=docker).")
set(CPACK_DEBIAN_SLAVE_PACKAGE_SUGGESTS docker.io)

set(CPACK_DEBIAN_SERVICES_PACKAGE_NAME stoa-services)
set(CPACK_COMPONENT_SERVICES_DESCRIPTION
    "Stoa services framework (Marathon-compatible REST API)\nRuns long-lived applications on a Stoa cluster; with --zk, several instances elect a leader.")
set(CPACK_DEBIAN_SERVICES_PACKAGE_SUGGESTS zookeeper)

set(CPACK_DEBIAN_LB_PACKAGE_NAME stoa-lb)
set(CPACK_COMPONENT_LB_DESCRIPTION
    "Stoa load balancer (marathon-lb-compatible)\nReads the services registry and drives HAProxy.")
# -W (master-worker) and the master socket: HAProxy 2.0 or later.
set(CPACK_DEBIAN_LB_PACKAGE_DEPENDS "haproxy (>= 2.0)")

set(CPACK_DEBIAN_CLI_PACKAGE_NAME stoa)
set(CPACK_COMPONENT_CLI_DESCRIPTION
    "Stoa command line\nstoa (operate the cluster through the master's HTTP API) and stoa-execute\n(run one command or container as a task).")
set(CPACK_DEBIAN_CLI_PACKAGE_SECTION utils)

include(CPack)

# tests/packaging/package_test.sh: cpack on this tree, the packages checked
# in a scratch root (exits 77, skipped, without dpkg-deb/cpack/binaries).
# Not in sanitized or fuzzing trees: nobody packages those, and CI's ASan
# pass would pay the ~20 s again for nothing.
if(NOT STOA_SANITIZE AND NOT STOA_FUZZ)
  add_test(NAME package_tests
           COMMAND ${PROJECT_SOURCE_DIR}/tests/packaging/package_test.sh ${CMAKE_BINARY_DIR} ${CMAKE_CPACK_COMMAND})
  set_tests_properties(package_tests PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120 LABELS "packaging")
endif()
