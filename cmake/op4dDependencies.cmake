# Third-party packages op4d builds against (all Debian 12 packages, see scripts/debian-packages.txt).
# Shared by the build and by the exported op4dConfig.cmake.
find_package(Eigen3 3.3 REQUIRED NO_MODULE)
find_package(TBB REQUIRED)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(TIFF REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(BLOSC REQUIRED IMPORTED_TARGET blosc)
pkg_check_modules(DEFLATE REQUIRED IMPORTED_TARGET libdeflate)
# xraylib (libxrl-dev): X-ray cross sections for the imaging advisor (module advise only)
pkg_check_modules(XRL REQUIRED IMPORTED_TARGET libxrl)
find_package(Open3D REQUIRED)
find_package(Ceres REQUIRED)
