#include "op4d/core/phase.h"

#include <set>
#include <sstream>

#include "op4d/core/error.h"

namespace op4d {

const char* ToString(PhaseRole r) {
  switch (r) {
    case PhaseRole::kPore: return "pore";
    case PhaseRole::kActive: return "active";
    case PhaseRole::kBinder: return "binder";
    case PhaseRole::kOther: return "other";
  }
  OP4D_CHECK_MSG(false, "unknown PhaseRole");
}

PhaseRole PhaseRoleFromString(const std::string& s) {
  if (s == "pore") return PhaseRole::kPore;
  if (s == "active") return PhaseRole::kActive;
  if (s == "binder") return PhaseRole::kBinder;
  if (s == "other") return PhaseRole::kOther;
  throw ConfigError("phase role", "'" + s + "' is not one of pore, active, binder, other");
}

PhaseTable PhaseTable::Electrode() {
  return PhaseTable({{"pore", 0, PhaseRole::kPore},
                     {"active", 1, PhaseRole::kActive},
                     {"binder", 2, PhaseRole::kBinder}});
}

std::optional<Phase> PhaseTable::FindLabel(std::uint8_t label) const {
  for (const Phase& p : phases_)
    if (p.label == label) return p;
  return std::nullopt;
}

std::optional<Phase> PhaseTable::FindName(const std::string& name) const {
  for (const Phase& p : phases_)
    if (p.name == name) return p;
  return std::nullopt;
}

std::vector<Phase> PhaseTable::WithRole(PhaseRole role) const {
  std::vector<Phase> out;
  for (const Phase& p : phases_)
    if (p.role == role) out.push_back(p);
  return out;
}

bool PhaseTable::IsValid(std::string* why) const {
  if (phases_.empty()) {
    if (why) *why = "the phase table is empty";
    return false;
  }
  std::set<int> labels;
  std::set<std::string> names;
  for (const Phase& p : phases_) {
    if (p.name.empty()) {
      if (why) *why = "phase with label " + std::to_string(p.label) + " has no name";
      return false;
    }
    if (!labels.insert(p.label).second) {
      if (why) *why = "label " + std::to_string(p.label) + " is used by two phases";
      return false;
    }
    if (!names.insert(p.name).second) {
      if (why) *why = "phase name '" + p.name + "' is used twice";
      return false;
    }
  }
  return true;
}

std::string PhaseTable::ToSpec() const {
  std::ostringstream os;
  for (std::size_t i = 0; i < phases_.size(); ++i) {
    if (i) os << ',';
    os << phases_[i].name << '=' << int(phases_[i].label) << ':' << ToString(phases_[i].role);
  }
  return os.str();
}

PhaseTable PhaseTable::FromSpec(const std::string& spec) {
  std::vector<Phase> phases;
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto eq = item.find('=');
    const auto colon = item.find(':', eq == std::string::npos ? 0 : eq);
    if (eq == std::string::npos || colon == std::string::npos)
      throw ConfigError("phases", "'" + item + "' is not of the form name=label:role");
    Phase p;
    p.name = item.substr(0, eq);
    const std::string label = item.substr(eq + 1, colon - eq - 1);
    try {
      std::size_t used = 0;
      const int v = std::stoi(label, &used);
      if (used != label.size() || v < 0 || v > 255) throw std::out_of_range("label");
      p.label = static_cast<std::uint8_t>(v);
    } catch (const std::exception&) {
      throw ConfigError("phases", "label '" + label + "' of phase '" + p.name + "' is not an integer 0..255");
    }
    p.role = PhaseRoleFromString(item.substr(colon + 1));
    phases.push_back(p);
  }
  PhaseTable t(std::move(phases));
  std::string why;
  if (!t.IsValid(&why)) throw ConfigError("phases", why);
  return t;
}

}  // namespace op4d
