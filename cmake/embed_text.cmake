# cmake -DIN=file -DOUT=file.inc -DVAR=name -P embed_text.cmake: writes OUT, a C++ fragment
# that defines `constexpr const char* VAR` holding IN's text as a raw string literal, so that a
# page's script and style can live in their own files (src/report/html_page.js, .css) and still
# be compiled into one self-contained writer. Fails if IN holds the literal's closing delimiter.
file(READ "${IN}" text)
string(FIND "${text}" ")TDEMBED\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains )TDEMBED\" and cannot be embedded")
endif()
file(WRITE "${OUT}.tmp" "// Generated from ${IN} by cmake/embed_text.cmake; edit that file instead.\n"
     "constexpr const char* ${VAR} = R\"TDEMBED(${text})TDEMBED\";\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
