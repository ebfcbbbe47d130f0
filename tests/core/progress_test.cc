#include "op4d/core/progress.h"

#include <sstream>

#include "test_util.h"

using namespace op4d;

TEST_CASE("progress lines give fraction, counts and ETA", "[core]") {
  REQUIRE(Progress::FormatLine("import", 25, 100, 10.0, false) == "import:  25% (25/100) elapsed 10s, ETA 30s");
  REQUIRE(Progress::FormatLine("x", 1, 2, 90.0, true) == "x: [############............]  50% (1/2) elapsed 1m30s, ETA 1m30s");
  REQUIRE(Progress::FormatLine("x", 2, 2, 5.0, false) == "x: 100% (2/2) elapsed 5s, ETA 0s");
}

TEST_CASE("line-style progress prints at each tenth and once at the end", "[core]") {
  std::ostringstream os;
  {
    Progress p("frames", 20, ProgressStyle::kLines, &os);
    for (int i = 0; i < 20; ++i) p.Advance();
  }
  const std::string s = os.str();
  const auto lines = std::count(s.begin(), s.end(), '\n');
  REQUIRE(lines == 10);  // 10 %, 20 %, … 90 % and the final 100 % line
  REQUIRE(s.find("frames: 100% (20/20)") != std::string::npos);
}
