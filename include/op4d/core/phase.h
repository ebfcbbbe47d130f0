// Phase table: which label value means which material, and what role it plays.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace op4d {

// The role a phase plays in the electrode physics.
enum class PhaseRole { kPore, kActive, kBinder, kOther };
const char* ToString(PhaseRole r);                  // "pore", "active", "binder", "other"
PhaseRole PhaseRoleFromString(const std::string& s);  // throws ConfigError naming the value

struct Phase {
  std::string name;        // e.g. "NMC", "carbon-binder", "pore"
  std::uint8_t label = 0;  // value in a PhaseVolume
  PhaseRole role = PhaseRole::kOther;
};

class PhaseTable {
 public:
  PhaseTable() = default;
  explicit PhaseTable(std::vector<Phase> phases) : phases_(std::move(phases)) {}

  // The three-phase electrode every example uses: 0 pore, 1 active, 2 binder.
  static PhaseTable Electrode();

  const std::vector<Phase>& phases() const { return phases_; }
  std::size_t size() const { return phases_.size(); }
  std::optional<Phase> FindLabel(std::uint8_t label) const;
  std::optional<Phase> FindName(const std::string& name) const;
  std::vector<Phase> WithRole(PhaseRole role) const;

  // Labels and names unique, names non-empty, at least one phase.
  bool IsValid(std::string* why) const;

  // Compact text form used in files and on the command line: "pore=0:pore,NMC=1:active".
  std::string ToSpec() const;
  static PhaseTable FromSpec(const std::string& spec);  // throws ConfigError

 private:
  std::vector<Phase> phases_;
};

}  // namespace op4d
