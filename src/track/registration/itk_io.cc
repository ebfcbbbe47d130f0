#include "itk_io.h"

#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkMetaImageIO.h>
#include <itkVector.h>

#include "itk/itk_bridge.h"
#include "op4d/core/error.h"

namespace op4d {
namespace {

template <class T>
void Write(const std::string& path, const Volume<T>& v) {
  auto writer = itk::ImageFileWriter<itk::Image<T, 3>>::New();
  writer->SetImageIO(itk::MetaImageIO::New());
  writer->SetFileName(path);
  writer->SetInput(itk_bridge::ToItk(v));
  try {
    writer->Update();
  } catch (const itk::ExceptionObject& e) {
    throw IoError(path, "", std::string("cannot write MetaImage: ") + e.GetDescription());
  }
}

}  // namespace

void WriteMetaImage(const std::string& path, const Volume<float>& v) { Write(path, v); }
void WriteMetaImage(const std::string& path, const Volume<std::uint8_t>& v) { Write(path, v); }

std::array<Volume<float>, 3> ReadVectorImage(const std::string& path) {
  using Image = itk::Image<itk::Vector<float, 3>, 3>;
  auto reader = itk::ImageFileReader<Image>::New();
  reader->SetImageIO(itk::MetaImageIO::New());
  reader->SetFileName(path);
  try {
    reader->Update();
  } catch (const itk::ExceptionObject& e) {
    throw IoError(path, "", std::string("cannot read the vector image: ") + e.GetDescription());
  }
  const Image* img = reader->GetOutput();
  const Geometry g = itk_bridge::GeometryOf(*img);
  std::array<Volume<float>, 3> out{Volume<float>(g), Volume<float>(g), Volume<float>(g)};
  const itk::Vector<float, 3>* p = img->GetBufferPointer();
  for (std::int64_t i = 0, n = g.voxel_count(); i < n; ++i)
    for (int c = 0; c < 3; ++c) out[std::size_t(c)][i] = p[i][2 - c];
  return out;
}

}  // namespace op4d
