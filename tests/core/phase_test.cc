#include "op4d/core/phase.h"

#include "op4d/core/error.h"
#include "test_util.h"

using namespace op4d;

TEST_CASE("phase tables round-trip through their text form", "[core]") {
  const PhaseTable t = PhaseTable::Electrode();
  REQUIRE(t.ToSpec() == "pore=0:pore,active=1:active,binder=2:binder");
  const PhaseTable back = PhaseTable::FromSpec(t.ToSpec());
  REQUIRE(back.size() == 3);
  REQUIRE(back.FindLabel(2)->role == PhaseRole::kBinder);
  REQUIRE(back.FindName("active")->label == 1);
  REQUIRE(back.WithRole(PhaseRole::kPore).size() == 1);
}

TEST_CASE("bad phase tables name the fault", "[core]") {
  REQUIRE_THROWS_WITH(PhaseTable::FromSpec("pore=0:pore,solid=0:active"), Catch::Contains("label 0 is used by two"));
  REQUIRE_THROWS_WITH(PhaseTable::FromSpec("pore=0:liquid"), Catch::Contains("'liquid'"));
  REQUIRE_THROWS_WITH(PhaseTable::FromSpec("pore=300:pore"), Catch::Contains("'300'"));
  REQUIRE_THROWS_WITH(PhaseTable::FromSpec("pore"), Catch::Contains("name=label:role"));
}
