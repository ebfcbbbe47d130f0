// MetaImage, NRRD and NIfTI through ITK. ITK types stay in this file.
#include <itkImage.h>
#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkImageIOFactory.h>
#include <itkMetaImageIOFactory.h>
#include <itkNiftiImageIOFactory.h>
#include <itkNrrdImageIOFactory.h>
#include <sys/stat.h>

#include <cstring>
#include <mutex>

#include "op4d/core/error.h"
#include "op4d/io/export.h"
#include "op4d/io/import.h"
#include "itk/itk_bridge.h"

namespace op4d {
namespace {

void RegisterFactories() {
  static std::once_flag once;
  std::call_once(once, [] {
    itk::MetaImageIOFactory::RegisterOneFactory();
    itk::NrrdImageIOFactory::RegisterOneFactory();
    itk::NiftiImageIOFactory::RegisterOneFactory();
  });
}

std::string Short(const itk::ExceptionObject& e) {
  std::string d = e.GetDescription();
  while (!d.empty() && (d.back() == '\n' || d.back() == ' ')) d.pop_back();
  return d;
}

template <class T>
AnyVolume ReadAs(const std::string& path, bool* non_identity_direction) {
  using Image = itk::Image<T, 3>;
  auto reader = itk::ImageFileReader<Image>::New();
  reader->SetFileName(path);
  reader->Update();
  typename Image::Pointer img = reader->GetOutput();
  // ITK is (x, y, z) with physical units of the file (MetaImage/NRRD/NIfTI conventionally mm for
  // medical data; tomography writers, op4d included, use µm). op4d keeps the numbers as µm.
  const Geometry g = itk_bridge::GeometryOf(*img);
  const auto& dir = img->GetDirection();
  *non_identity_direction = false;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      if (std::abs(dir[i][j] - (i == j ? 1.0 : 0.0)) > 1e-9) *non_identity_direction = true;
  Volume<T> v(g);
  std::memcpy(v.data(), img->GetBufferPointer(), std::size_t(v.size()) * sizeof(T));
  return v;
}

template <class T>
void WriteAs(const std::string& path, ConstVolumeView v) {
  using Image = itk::Image<T, 3>;
  typename Image::Pointer img = itk_bridge::ToItk(v.geometry(), static_cast<const T*>(v.data()));
  auto writer = itk::ImageFileWriter<Image>::New();
  writer->SetFileName(path);
  writer->SetInput(img);
  writer->SetUseCompression(true);
  writer->Update();
}

}  // namespace

AnyVolume ReadItkImage(const std::string& path, std::string* notes) {
  RegisterFactories();
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw IoError(path, "", "does not exist");
  try {
    auto io = itk::ImageIOFactory::CreateImageIO(path.c_str(), itk::ImageIOFactory::FileModeEnum::ReadMode);
    if (!io) throw IoError(path, "", "is not a MetaImage, NRRD or NIfTI file ITK can read");
    io->SetFileName(path);
    io->ReadImageInformation();
    if (io->GetNumberOfComponents() != 1)
      throw IoError(path, "", "has " + std::to_string(io->GetNumberOfComponents()) + " components per voxel; one is needed");
    if (io->GetNumberOfDimensions() > 3)
      throw IoError(path, "", "has " + std::to_string(io->GetNumberOfDimensions()) +
                                  " dimensions; import 4D series frame by frame (one 3D file per frame)");
    using IOComponent = itk::IOComponentEnum;
    const auto ct = io->GetComponentType();
    bool rotated = false;
    AnyVolume out;
    std::string conv;
    if (ct == IOComponent::UCHAR) out = ReadAs<std::uint8_t>(path, &rotated);
    else if (ct == IOComponent::USHORT) out = ReadAs<std::uint16_t>(path, &rotated);
    else {
      out = ReadAs<float>(path, &rotated);
      if (ct != IOComponent::FLOAT) conv = ", converted from " + itk::ImageIOBase::GetComponentTypeAsString(ct) + " to float32";
    }
    if (notes) {
      *notes = std::string(io->GetNameOfClass()) + conv;
      if (rotated) *notes += ", direction matrix not identity (ignored: op4d grids are axis-aligned)";
    }
    return out;
  } catch (const itk::ExceptionObject& e) {
    throw IoError(path, "", "ITK cannot read it: " + Short(e));
  }
}

void WriteItkImage(const std::string& path, ConstVolumeView v) {
  RegisterFactories();
  try {
    switch (v.dtype()) {
      case DataType::kUInt8: WriteAs<std::uint8_t>(path, v); break;
      case DataType::kUInt16: WriteAs<std::uint16_t>(path, v); break;
      case DataType::kFloat32: WriteAs<float>(path, v); break;
    }
  } catch (const itk::ExceptionObject& e) {
    throw IoError(path, "", "ITK cannot write it: " + Short(e));
  }
}

}  // namespace op4d
