# The public library: the layers' objects in one static library (the layers are a build-time
# structure, not installed), with the public API as its interface.
add_library(tensordiff_lib STATIC)
td_collect(tensordiff_lib common core io cpu kernels engine report options)
target_include_directories(tensordiff_lib PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
  $<INSTALL_INTERFACE:include>)
target_link_libraries(tensordiff_lib PRIVATE ${HDF5_C_LIBRARIES} PkgConfig::HWY PkgConfig::DEFLATE PkgConfig::RE2
  PkgConfig::MINIZIP ${LZF_LIBRARY} nlohmann_json::nlohmann_json Threads::Threads)
set_target_properties(tensordiff_lib PROPERTIES OUTPUT_NAME tensordiff)
if(TENSORDIFF_HAVE_MPI)
  target_link_libraries(tensordiff_lib PRIVATE MPI::MPI_CXX)
endif()
if(TENSORDIFF_HAVE_CUDA)
  td_collect(tensordiff_lib cuda)
  set_target_properties(tensordiff_lib PROPERTIES CUDA_ARCHITECTURES "${CMAKE_CUDA_ARCHITECTURES}")
  target_compile_definitions(tensordiff_lib PUBLIC TENSORDIFF_HAVE_CUDA=1)
  # The CUDA runtime is linked statically: the binary needs only the driver.
  target_link_libraries(tensordiff_lib PUBLIC CUDA::cudart_static)
endif()
if(TENSORDIFF_HAVE_PYTHON)
  set_target_properties(tensordiff_lib td_common td_core td_io td_cpu td_kernels td_engine td_report td_options
    PROPERTIES POSITION_INDEPENDENT_CODE ON)
  if(TENSORDIFF_HAVE_CUDA)
    set_target_properties(td_cuda PROPERTIES POSITION_INDEPENDENT_CODE ON)
  endif()
endif()
