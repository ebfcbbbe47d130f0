#include "h5.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

#include "op4d/core/error.h"

namespace op4d::internal::h5 {

void Id::Reset() {
  if (id_ < 0) return;
  switch (H5Iget_type(id_)) {
    case H5I_FILE: H5Fclose(id_); break;
    case H5I_GROUP: H5Gclose(id_); break;
    case H5I_DATASET: H5Dclose(id_); break;
    case H5I_DATASPACE: H5Sclose(id_); break;
    case H5I_DATATYPE: H5Tclose(id_); break;
    case H5I_ATTR: H5Aclose(id_); break;
    case H5I_GENPROP_LST: H5Pclose(id_); break;
    default: H5Idec_ref(id_); break;
  }
  id_ = H5I_INVALID_HID;
}

void SilenceErrors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

std::string LastError() {
  std::vector<std::string> descs;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
        if (e->desc && *e->desc) static_cast<std::vector<std::string>*>(data)->push_back(e->desc);
        return 0;
      },
      &descs);
  H5Eclear2(H5E_DEFAULT);
  if (descs.empty()) return "HDF5 reported no detail";
  // The innermost entry names the cause (errno text, missing object…); keep it short.
  std::string s = descs.back();
  const auto p = s.find("error message = '");
  if (p != std::string::npos) {
    const auto q = s.find('\'', p + 17);
    s = s.substr(p + 17, q == std::string::npos ? std::string::npos : q - p - 17);
  }
  return s;
}

void Fail(const std::string& path, const std::string& object, const std::string& what) {
  throw IoError(path, object, what + " (HDF5: " + LastError() + ")");
}

bool Exists(hid_t loc, const std::string& path) {
  std::string cur;
  std::stringstream ss(path);
  std::string part;
  if (!path.empty() && path[0] == '/') cur = "/";
  while (std::getline(ss, part, '/')) {
    if (part.empty()) continue;
    cur += (cur.empty() || cur.back() == '/' ? "" : "/") + part;
    const htri_t e = H5Lexists(loc, cur.c_str(), H5P_DEFAULT);
    if (e <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
  }
  return true;
}

bool IsHdf5(const std::string& path) {
  // Check the signature ourselves: H5Fis_hdf5 fails noisily on missing files.
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  // The superblock may sit at 0, 512, 1024, 2048, … (user block).
  for (std::streamoff off = 0; off <= (1 << 20); off = off ? off * 2 : 512) {
    unsigned char buf[8];
    f.seekg(off);
    if (!f.read(reinterpret_cast<char*>(buf), 8)) return false;
    if (std::memcmp(buf, sig, 8) == 0) return true;
  }
  return false;
}

Id FileAccess() {
  Id fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
  H5Pset_file_locking(fapl, 0, 1);
  // Every allocation starts on a 4 KiB page: a metadata block smaller than a page is then written by
  // one page copy, which a SIGKILL cannot tear (the kernel stops a dying writer only between pages).
  // A torn object header would make the whole frame dataset unreadable.
  H5Pset_alignment(fapl, 1, 4096);
  // SWMR readers retry metadata whose checksum fails (a writer may be mid-update); bound the retries
  // so a damaged file gives an error instead of a long wait.
  H5Pset_metadata_read_attempts(fapl, 20);
  return fapl;
}

void WriteStringAttr(hid_t obj, const std::string& name, const std::string& value) {
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  // Variable-length UTF-8: h5py returns str, HDFView shows text.
  Id type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  Id space(H5Screate(H5S_SCALAR));
  Id attr(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT));
  const char* p = value.c_str();
  if (!attr.valid() || H5Awrite(attr, type, &p) < 0)
    throw IoError("", name, "cannot write attribute (HDF5: " + LastError() + ")");
}

std::string ReadStringAttr(hid_t obj, const std::string& name) {
  if (H5Aexists(obj, name.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return "";
  }
  Id attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT));
  Id ftype(H5Aget_type(attr));
  if (H5Tget_class(ftype) != H5T_STRING) return "";
  if (H5Tis_variable_str(ftype) > 0) {
    Id mtype(H5Tcopy(H5T_C_S1));
    H5Tset_size(mtype, H5T_VARIABLE);
    H5Tset_cset(mtype, H5Tget_cset(ftype));
    char* s = nullptr;
    if (H5Aread(attr, mtype, &s) < 0 || !s) return "";
    std::string out(s);
    H5free_memory(s);
    return out;
  }
  const size_t n = H5Tget_size(ftype);
  std::string out(n, '\0');
  Id mtype(H5Tcopy(ftype));
  if (H5Aread(attr, mtype, out.data()) < 0) return "";
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::vector<std::string> ReadStringsAttr(hid_t obj, const std::string& name) {
  if (H5Aexists(obj, name.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return {};
  }
  Id attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT));
  Id ftype(H5Aget_type(attr));
  if (H5Tget_class(ftype) != H5T_STRING) return {};
  Id space(H5Aget_space(attr));
  const hssize_t n = std::max<hssize_t>(1, H5Sget_simple_extent_npoints(space));
  std::vector<std::string> out;
  if (H5Tis_variable_str(ftype) > 0) {
    Id mtype(H5Tcopy(H5T_C_S1));
    H5Tset_size(mtype, H5T_VARIABLE);
    H5Tset_cset(mtype, H5Tget_cset(ftype));
    std::vector<char*> ptrs(size_t(n), nullptr);
    if (H5Aread(attr, mtype, ptrs.data()) < 0) return {};
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, ptrs.data());
  } else {
    const size_t len = H5Tget_size(ftype);
    std::vector<char> buf(len * size_t(n) + 1, '\0');
    Id mtype(H5Tcopy(ftype));
    if (H5Aread(attr, mtype, buf.data()) < 0) return {};
    for (hssize_t i = 0; i < n; ++i) {
      std::string v(buf.data() + size_t(i) * len, len);
      v.resize(std::strlen(v.c_str()));
      out.push_back(v);
    }
  }
  return out;
}

void WriteDoublesAttr(hid_t obj, const std::string& name, const std::vector<double>& v) {
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  const hsize_t n = v.size();
  Id space(H5Screate_simple(1, &n, nullptr));
  Id attr(H5Acreate2(obj, name.c_str(), H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT));
  if (!attr.valid() || H5Awrite(attr, H5T_NATIVE_DOUBLE, v.data()) < 0)
    throw IoError("", name, "cannot write attribute (HDF5: " + LastError() + ")");
}

std::vector<double> ReadDoublesAttr(hid_t obj, const std::string& name) {
  if (H5Aexists(obj, name.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return {};
  }
  Id attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT));
  Id space(H5Aget_space(attr));
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  std::vector<double> v(n > 0 ? size_t(n) : 0);
  if (!v.empty() && H5Aread(attr, H5T_NATIVE_DOUBLE, v.data()) < 0) return {};
  return v;
}

void WriteInt64Attr(hid_t obj, const std::string& name, long long v) {
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  Id space(H5Screate(H5S_SCALAR));
  Id attr(H5Acreate2(obj, name.c_str(), H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT));
  H5Awrite(attr, H5T_NATIVE_LLONG, &v);
}

void WriteDoubles1D(hid_t loc, const std::string& name, const std::vector<double>& v) {
  const hsize_t n = v.size();
  Id space(H5Screate_simple(1, &n, nullptr));
  Id ds(H5Dcreate2(loc, name.c_str(), H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!ds.valid() || (n > 0 && H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0))
    throw IoError("", name, "cannot write dataset (HDF5: " + LastError() + ")");
}

std::vector<double> ReadDoubles1D(hid_t ds) {
  Id space(H5Dget_space(ds));
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  std::vector<double> v(n > 0 ? size_t(n) : 0);
  if (!v.empty() && H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
    throw IoError("", "", "cannot read float64 dataset (HDF5: " + LastError() + ")");
  return v;
}

std::vector<std::string> ListChildren(hid_t group) {
  std::vector<std::string> names;
  H5Literate(
      group, H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->push_back(name);
        return 0;
      },
      &names);
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<hsize_t> Dims(hid_t ds) {
  Id space(H5Dget_space(ds));
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> d(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space, d.data(), nullptr);
  return d;
}

}  // namespace op4d::internal::h5
