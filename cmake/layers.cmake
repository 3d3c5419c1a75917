# Layers the build enforces (docs/design.md §3). Each layer is an object library whose headers
# are reachable only through its own include root: a link in the build tree named after its
# folder (TD_LAYER_ROOT/io/io -> src/io), so that "io/source.hpp" resolves for io and for the
# layers that link io, and nowhere else. A layer links only the layers below it, and gets their
# roots with them; an #include that runs up the layout ("engine/..." from src/io) fails to
# compile. tests/layering/ proves it.
set(TD_LAYER_ROOT ${CMAKE_BINARY_DIR}/layers)

# td_layer(NAME FOLDER sources...): the object library td_NAME for FOLDER (relative to the
# project), with the public API and its own root as include directories.
function(td_layer name folder)
  get_filename_component(leaf ${folder} NAME)
  set(root ${TD_LAYER_ROOT}/${name})
  file(MAKE_DIRECTORY ${root})
  if(NOT EXISTS ${root}/${leaf})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${folder} ${root}/${leaf} SYMBOLIC)
  endif()
  add_library(td_${name} OBJECT ${ARGN})
  target_include_directories(td_${name} PUBLIC ${root} ${PROJECT_SOURCE_DIR}/include)
endfunction()

# td_collect(TARGET layers...): the layers' objects compiled into TARGET (one static library
# for users; the layers are a build-time structure, not installed).
function(td_collect target)
  foreach(layer ${ARGN})
    target_sources(${target} PRIVATE $<TARGET_OBJECTS:td_${layer}>)
  endforeach()
endfunction()
