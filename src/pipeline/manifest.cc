#include "op4d/pipeline/manifest.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "op4d/core/error.h"

namespace op4d {
namespace {

std::string Trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  const auto b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

// Splits one CSV line; double quotes protect commas ("a,b"), "" is a literal quote.
std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(Trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(Trim(cur));
  return out;
}

}  // namespace

Manifest ReadManifest(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError(path, "", "cannot open manifest");
  Manifest m;
  m.path = path;
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string line;
  int lineno = 0;
  std::vector<std::string> names;
  std::set<std::string> standard;
  for (const TimeColumnSpec& c : StandardTimeColumns()) standard.insert(c.name);
  while (std::getline(in, line)) {
    ++lineno;
    const std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    const auto cells = SplitCsv(t);
    const std::string where = "line " + std::to_string(lineno);
    if (names.empty()) {
      std::set<std::string> seen;
      for (const std::string& h : cells) {
        std::string name = h, unit;
        const auto b = h.find('[');
        if (b != std::string::npos) {
          const auto e = h.find(']', b);
          if (e == std::string::npos) throw IoError(path, where, "header '" + h + "' has an unclosed '['");
          name = Trim(h.substr(0, b));
          unit = Trim(h.substr(b + 1, e - b - 1));
        }
        if (name.empty()) throw IoError(path, where, "empty column name in the header");
        if (!seen.insert(name).second) throw IoError(path, where, "column '" + name + "' appears twice");
        if (name != "file" && name != "dataset" && name != "frame" && !standard.count(name))
          m.user_columns.push_back({name, unit.empty() ? "1" : unit, "from manifest " + path});
        names.push_back(name);
      }
      if (!seen.count("file")) throw IoError(path, where, "the header has no 'file' column");
      if (!seen.count("time_s")) throw IoError(path, where, "the header has no 'time_s' column");
      continue;
    }
    if (cells.size() != names.size())
      throw IoError(path, where, "has " + std::to_string(cells.size()) + " fields, the header has " + std::to_string(names.size()));
    ManifestEntry e;
    e.line = lineno;
    for (std::size_t c = 0; c < names.size(); ++c) {
      const std::string& v = cells[c];
      if (names[c] == "file") {
        if (v.empty()) throw IoError(path, where, "empty file name");
        e.file = (v[0] == '/' ? "" : dir) + v;
      } else if (names[c] == "dataset") {
        e.dataset = v;
      } else if (names[c] == "frame") {
        char* end = nullptr;
        const long long k = std::strtoll(v.c_str(), &end, 10);
        if (v.empty() || *end || k < 0) throw IoError(path, where + ", column frame", "'" + v + "' is not a frame index");
        e.frame = k;
      } else if (!v.empty()) {
        char* end = nullptr;
        const double x = std::strtod(v.c_str(), &end);
        if (*end || !std::isfinite(x))
          throw IoError(path, where + ", column " + names[c], "'" + v + "' is not a finite number");
        e.row[names[c]] = x;
      }
    }
    if (!e.row.count("time_s")) throw IoError(path, where + ", column time_s", "every frame needs a time");
    if (!m.entries.empty() && !(e.row["time_s"] > m.entries.back().row["time_s"]))
      throw IoError(path, where + ", column time_s", "times must increase from line to line");
    m.entries.push_back(std::move(e));
  }
  if (m.entries.empty()) throw IoError(path, "", "the manifest lists no frames");
  return m;
}

}  // namespace op4d
