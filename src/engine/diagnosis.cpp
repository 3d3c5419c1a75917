#include "engine/diagnosis.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

namespace tensordiff {

namespace {

struct Seen {
  double rel = 0, sys = 0;  // the largest relative L2 error and systematic part so far
};

// A name with every run of digits replaced by '#': the same module in another layer.
std::string peer_key(const std::string& name) {
  std::string k;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) {
      k += name[i];
      continue;
    }
    k += '#';
    while (i + 1 < name.size() && std::isdigit(static_cast<unsigned char>(name[i + 1]))) ++i;
  }
  return k;
}

// "X.input" or "X.input.K" → X; empty otherwise.
std::string module_of_input(const std::string& name) {
  const auto pos = name.rfind(".input");
  if (pos == std::string::npos || pos == 0) return "";
  const std::string rest = name.substr(pos + 6);
  if (!rest.empty()) {
    if (rest[0] != '.' || rest.size() == 1) return "";
    for (size_t i = 1; i < rest.size(); ++i)
      if (!std::isdigit(static_cast<unsigned char>(rest[i]))) return "";
  }
  return name.substr(0, pos);
}

}  // namespace

void diagnose(Report& rep, double u, const JumpRules& rules) {
  std::unordered_set<std::string> names;
  for (const auto& r : rep.tensors) names.insert(r.name);
  std::unordered_map<std::string, Seen> inputs;  // per module: its recorded inputs' largest
  std::unordered_map<std::string, double> peers;  // per peer_key: the largest systematic part
  Seen before;
  for (auto& r : rep.tensors) {
    if (!r.diff || !r.a || !r.b) continue;
    const DiffStats& d = *r.diff;
    const double rel = d.rel_l2;
    const double n = static_cast<double>(d.finite_pairs);
    double sys = 0;
    if (r.a->l2 && *r.a->l2 > 0 && r.b->l2) {
      r.scale = *r.b->l2 / *r.a->l2;
      sys = std::fabs(*r.scale - 1);
      if (r.a->mean && r.b->mean && r.a->finite > 0) {
        const double rms = *r.a->l2 / std::sqrt(static_cast<double>(r.a->finite));
        r.shift = (*r.b->mean - *r.a->mean) / rms;
        sys = std::max(sys, std::fabs(*r.shift));
      }
    }
    // What this pair inherited: its module's recorded inputs, else every earlier pair.
    const auto in = inputs.find(r.name);
    const Seen base = in != inputs.end() ? in->second : before;
    r.growth = std::isfinite(rel) ? rel / std::max(u, base.rel) : rel;
    const double noise = std::max(n > 0 ? rel / std::sqrt(n) : rel, rel * rel);
    const bool growth_jump = *r.growth >= rules.growth;
    const bool systematic_jump = rel > 0 && std::isfinite(sys) &&
                                 sys >= rules.systematic_fraction * rel &&
                                 sys >= rules.systematic_over_before * base.sys &&
                                 sys >= rules.systematic_floor * u && sys >= rules.systematic_z * noise;
    const std::string key = peer_key(r.name);
    const auto peer = key != r.name ? peers.find(key) : peers.end();
    const bool peer_jump = peer != peers.end() && rel > 0 && std::isfinite(sys) &&
                           sys >= rules.peer_ratio * peer->second && sys >= rules.systematic_floor * u &&
                           sys >= rules.systematic_z * noise;
    const std::string module = module_of_input(r.name);
    const bool input_of_present_module = !module.empty() && names.count(module);
    r.jump = (growth_jump || systematic_jump || peer_jump) && !input_of_present_module;
    if (r.jump && !rep.summary.first_jump) rep.summary.first_jump = r.name;
    if (r.jump) rep.summary.jumps.push_back(r.name);
    if (input_of_present_module) {
      Seen& s = inputs[module];
      s.rel = std::max(s.rel, std::isfinite(rel) ? rel : 0.0);
      s.sys = std::max(s.sys, std::isfinite(sys) ? sys : 0.0);
    }
    if (key != r.name && std::isfinite(sys)) peers[key] = std::max(peers[key], sys);
    if (std::isfinite(rel)) before.rel = std::max(before.rel, rel);
    if (std::isfinite(sys)) before.sys = std::max(before.sys, sys);
  }
}

}  // namespace tensordiff
