// Laying a table out in a terminal of a given width: columns drop in a fixed priority order,
// names are shortened keeping what tells them apart (their numbers and last components), and
// long lines wrap at words.
#pragma once
#include <string>
#include <vector>

namespace tensordiff {

struct Column {
  std::string head;
  size_t width = 0;    // cells are padded to this
  bool right = false;  // right-aligned (numbers)
  int drop = 0;        // the order in which columns go when the width is short (1 first); 0 never
};

struct Layout {
  std::vector<bool> shown;
  size_t name_width = 0;  // of the column named "name"
};

// `fixed`: characters outside the columns (markers, separators are counted here: two spaces
// between columns). width 0: unlimited. The name column shrinks (to `name_min`) before any
// column drops, then after every column that may drop has gone.
Layout fit_columns(const std::vector<Column>& cols, size_t name_index, size_t name_max, size_t name_min,
                   size_t width, size_t fixed);

// `name` in at most `w` characters: components (split at '.' and '/') that are numbers, the
// one before a number (layers.7) and the last two are kept; the others shrink to their first
// letter, then leading components go ("…"), then the middle.
// `protect`: components (by index) that are kept whole too; `cut`: false keeps the middle
// (the result may then be wider than w).
std::string shorten_name(const std::string& name, size_t w, const std::vector<bool>& protect = {}, bool cut = true);

// Every name shortened to `w` as above, and never two alike: names that would print the same
// keep whole the components that tell them apart (possibly wider than w: the caller widens
// the column), and when that is not enough print in full (a row wider than the column beats
// two rows that read the same).
std::vector<std::string> shorten_names(const std::vector<std::string>& names, size_t w);

// `text` wrapped at spaces to `width` columns (0: unwrapped); continuation lines indented.
std::string wrap(const std::string& text, size_t width, size_t indent = 4);

std::string pad_to(const std::string& s, size_t w, bool right = false);
// Display width (UTF-8 code points; escape sequences of colour excluded).
size_t display_width(const std::string& s);

}  // namespace tensordiff
