# Installing. `cmake --install build [--prefix P]`: the command, its HDF5 helper (libexec),
# the library, the public headers and a CMake package: find_package(tensordiff) gives
# tensordiff::tensordiff. A pip build (scikit-build-core, python/pyproject.toml) installs the
# module and the helper into the package, the command into the environment's bin/.
include(CMakePackageConfigHelpers)
set_target_properties(tensordiff_lib PROPERTIES EXPORT_NAME tensordiff)
if(SKBUILD)
  if(TENSORDIFF_HAVE_PYTHON)
    install(TARGETS tensordiff_python LIBRARY DESTINATION tensordiff)
  endif()
  install(TARGETS tensordiff-hdf5-helper RUNTIME DESTINATION tensordiff)
  install(TARGETS tensordiff RUNTIME DESTINATION ${SKBUILD_SCRIPTS_DIR})
  install(TARGETS tensordiff-hdf5-helper RUNTIME DESTINATION ${SKBUILD_DATA_DIR}/${CMAKE_INSTALL_LIBEXECDIR})
else()
  install(TARGETS tensordiff RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(TARGETS tensordiff-hdf5-helper RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR})
  install(TARGETS tensordiff_lib EXPORT tensordiffTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY include/tensordiff DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  set(config_dir ${CMAKE_INSTALL_LIBDIR}/cmake/tensordiff)
  install(EXPORT tensordiffTargets NAMESPACE tensordiff:: DESTINATION ${config_dir})
  configure_package_config_file(cmake/tensordiffConfig.cmake.in
    ${CMAKE_BINARY_DIR}/tensordiffConfig.cmake INSTALL_DESTINATION ${config_dir})
  write_basic_package_version_file(${CMAKE_BINARY_DIR}/tensordiffConfigVersion.cmake
    COMPATIBILITY SameMinorVersion)
  install(FILES ${CMAKE_BINARY_DIR}/tensordiffConfig.cmake ${CMAKE_BINARY_DIR}/tensordiffConfigVersion.cmake
    DESTINATION ${config_dir})
endif()

