// The CSV report: one row per pair (or per tensor for stats), the scalar fields only, with a
// fixed header that pandas, spreadsheets and `sort -t,` read as they are (RFC 4180 quoting;
// empty cells for values that do not apply; numbers with 17 significant digits).
#include "common/format.hpp"
#include "tensordiff/tensordiff.hpp"

namespace tensordiff {

namespace {

std::string q(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string num(double v) { return shortest(v); }
std::string num(const std::optional<double>& v) { return v ? num(*v) : ""; }
std::string num(uint64_t v) { return std::to_string(v); }

std::string dims(const std::vector<uint64_t>& s) { return join_numbers(s, "x"); }  // "3x4"; "" for a scalar

const char* kSideCols = "count,nonzero,nan,pos_inf,neg_inf,min,max,mean,std,l2,checksum";

void side(std::string& row, const std::optional<SideStats>& s) {
  if (!s) {
    row += ",,,,,,,,,,,";
    return;
  }
  auto counted = [&](uint64_t v) { return s->counts_known ? num(v) : std::string(); };
  row += "," + num(s->count) + "," + counted(s->nonzero) + "," + counted(s->nan) + "," + counted(s->pos_inf) + "," +
         counted(s->neg_inf) + "," + num(s->min) + "," + num(s->max) + "," + num(s->mean) + "," + num(s->std) +
         "," + num(s->l2) + "," + (s->checksum_known ? hex16(s->checksum) : "");
}

std::string prefixed(const std::string& p) {
  std::string out, cols = kSideCols;
  size_t start = 0;
  while (start <= cols.size()) {
    size_t end = cols.find(',', start);
    if (end == std::string::npos) end = cols.size();
    out += "," + p + cols.substr(start, end - start);
    start = end + 1;
  }
  return out;
}

}  // namespace

const char* csv_columns() {
  return "order,name,name_b,status,reason,dtype_a,dtype_b,shape_a,shape_b,rtol,atol,count,finite_pairs,"
         "max_abs,max_abs_index,max_abs_a,max_abs_b,max_rel,mean_abs,rmse,rel_l2,cosine,mismatches,"
         "mismatch_fraction,nan_mismatch,inf_mismatch,bits_differ,max_ulp,growth,scale,shift,jump,"
         "first_divergence,first_jump,source";
}

void write_csv(const Report& rep, const TextSink& sink) {
  sink(std::string(csv_columns()) + prefixed("a_") + prefixed("b_") + "\n");
  const Summary& s = rep.summary;
  std::string row;
  for (const PairReport& r : rep.tensors) {
    row.clear();
    row += num(r.order) + "," + q(r.name) + "," + q(r.name_b) + "," + status_name(r.status) + "," + q(r.reason) + ",";
    row += (r.info_a ? q(r.info_a->type_name) : "") + "," + (r.info_b ? q(r.info_b->type_name) : "") + ",";
    row += (r.info_a ? dims(r.info_a->shape) : "") + "," + (r.info_b ? dims(r.info_b->shape) : "") + ",";
    const bool tol = r.info_a && r.info_b;
    row += (tol ? num(r.tolerance.rtol) : "") + "," + (tol ? num(r.tolerance.atol) : "") + ",";
    if (r.diff) {
      const DiffStats& d = *r.diff;
      const std::string idx = d.max_abs && r.info_a ? dims(unravel_index(d.max_abs->flat_index, r.info_a->shape)) : "";
      row += num(d.count) + "," + num(d.finite_pairs) + "," + (d.max_abs ? num(d.max_abs->value) : "") + "," + idx + "," +
             (d.max_abs ? num(d.max_abs->a) : "") + "," + (d.max_abs ? num(d.max_abs->b) : "") + "," +
             (d.max_rel ? num(d.max_rel->value) : "") + "," + num(d.mean_abs) + "," + num(d.rmse) + "," +
             num(d.rel_l2) + "," + num(d.cosine) + "," + num(d.mismatches) + "," + num(d.mismatch_fraction) + "," +
             num(d.nan_mismatch) + "," + num(d.inf_mismatch) + "," + (d.same_dtype ? num(d.bits_differ) : "") + "," +
             (d.same_dtype ? num(d.max_ulp) : "") + ",";
    } else {
      row += ",,,,,,,,,,,,,,,,,";
    }
    row += num(r.growth) + "," + num(r.scale) + "," + num(r.shift) + "," + (r.jump ? "1" : "0") + ",";
    row += std::string(s.first_divergence && *s.first_divergence == r.name ? "1" : "0") + "," +
           (s.first_jump && *s.first_jump == r.name ? "1" : "0") + ",";
    const std::string src = r.info_b && !r.info_b->source.empty() ? r.info_b->source
                            : r.info_a ? r.info_a->source : "";
    row += q(src);
    side(row, r.a);
    side(row, r.b);
    sink(row + "\n");
  }
}

void write_csv(const StatsReport& rep, const TextSink& sink) {
  sink(std::string("order,name,dtype,shape,storage,error") + prefixed("") + "\n");
  for (const StatsEntry& t : rep.tensors) {
    std::string row = num(t.info.order) + "," + q(t.info.name) + "," + q(t.info.type_name) + "," + dims(t.info.shape) +
                      "," + q(t.info.storage) + "," + q(!t.error.empty() ? t.error : t.info.unsupported.str());
    side(row, t.stats);
    sink(row + "\n");
  }
}

}  // namespace tensordiff
