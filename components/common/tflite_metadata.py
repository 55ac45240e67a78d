"""TFLite Metadata inside a .tflite file: what Android Studio's ML model binding and the TFLite
Task Library read (tensor descriptions, normalization, the label file, the tokenizer and its
vocabulary), written with tflite-support's metadata writers.

- An image family (family.ImageInput) gets the ImageClassifier writer's metadata: RGB input
  with normalization mean 0, std 1 (the model takes the raw grey levels and scales them
  itself, with the Transform graph), and the class names as the output's label file.
- A text family (family.TokenInput) gets the NLClassifier writer's: a regex tokenizer with
  Transform's delimiter and a vocabulary file (`<PAD>`, `<UNKNOWN>`, each word in the
  spellings the phone may see), and the label file.
- A table gets one described input per raw feature, in the model's input order, and a
  classification output with its label file (or a regression's prediction).

tflite-support's Python package imports its Task Library, whose pybind11 types clash with
TensorFlow's in one process (tensorflow/tensorflow#65943); the writers are imported from
`tensorflow_lite_support` directly, which leaves the Task Library out. Its native metadata
library links libusb-1.0, loaded from the libusb-package wheel so that no system package is
needed.
"""
from __future__ import annotations

import ctypes
import functools
import json
import os
import tempfile
from typing import Any, Dict, List, Optional, Sequence

import flatbuffers

from base.signature_names import MOBILE

LABELS_FILE = 'labels.txt'
VOCABULARY_FILE = 'vocabulary.txt'
PAD_TOKEN, UNKNOWN_TOKEN = '<PAD>', '<UNKNOWN>'  # the names the Task Library looks up


@functools.lru_cache(maxsize=None)
def load_libusb() -> None:
  """libusb-1.0 from the libusb-package wheel, loaded before tflite-support's native code
  (which links it) is."""
  import libusb_package  # pylint: disable=import-outside-toplevel
  library = os.path.join(os.path.dirname(libusb_package.__file__), 'libusb-1.0.so')
  ctypes.CDLL(library, mode=ctypes.RTLD_GLOBAL)


def _support():
  load_libusb()
  # pylint: disable=import-outside-toplevel
  from tensorflow_lite_support.metadata import metadata_schema_py_generated as schema
  from tensorflow_lite_support.metadata.python import metadata
  from tensorflow_lite_support.metadata.python.metadata_writers import (
      image_classifier, metadata_info, metadata_writer, nl_classifier, writer_utils)
  return schema, metadata, image_classifier, metadata_info, metadata_writer, nl_classifier, \
      writer_utils


def vocabulary_lines(vocabulary: Sequence[str], padding: int, spellings) -> List[str]:
  """The Task Library's vocabulary file ('token id' lines) for Transform's vocabulary:
  ids from 1 in Transform's order, each word under every spelling that folds to it, the
  padding id and one unknown id past the vocabulary."""
  lines = [f'{PAD_TOKEN} {padding}', f'{UNKNOWN_TOKEN} {len(vocabulary) + 1}']
  for index, word in enumerate(vocabulary, start=1):
    lines.extend(f'{spelling} {index}' for spelling in spellings(word))
  return lines


def write(model: bytes, info: Dict[str, Any]) -> bytes:
  """`model` with its metadata. `info`: name, description, author, version, class_names
  (empty for a regression), kind ('image', 'tokens' or 'table'), and for tokens the
  delimiter and vocabulary lines, for a table the input descriptions by signature name."""
  (schema, _, image_classifier, metadata_info, metadata_writer, nl_classifier,
   writer_utils) = _support()
  general = metadata_info.GeneralMd(name=info['name'], version=info['version'],
                                    description=info['description'], author=info['author'])
  with tempfile.TemporaryDirectory() as folder:
    labels = []
    if info['class_names']:
      path = os.path.join(folder, LABELS_FILE)
      with open(path, 'w', encoding='utf-8') as out:
        out.write('\n'.join(info['class_names']) + '\n')
      labels = [metadata_info.LabelFileMd(path)]
    output_type = writer_utils.get_output_tensor_types(model)[0]
    classes = metadata_info.ClassificationTensorMd(
        name='probabilities', description='Probability of each class, in the label file\'s '
        'order.', label_files=labels, tensor_type=output_type)
    if info['kind'] == 'image':
      image = metadata_info.InputImageTensorMd(
          name='image', description=info['input_description'], norm_mean=[0.0],
          norm_std=[1.0], color_space_type=schema.ColorSpaceType.RGB,
          tensor_type=writer_utils.get_input_tensor_types(model)[0])
      writer = image_classifier.MetadataWriter.create_from_metadata_info(
          model, general, image, classes)
    elif info['kind'] == 'tokens':
      path = os.path.join(folder, VOCABULARY_FILE)
      with open(path, 'w', encoding='utf-8') as out:
        out.write('\n'.join(info['vocabulary']) + '\n')
      text = metadata_info.InputTextTensorMd(
          name='token_ids', description=info['input_description'],
          tokenizer_md=metadata_info.RegexTokenizerMd(info['delimiter'], path))
      writer = nl_classifier.MetadataWriter.create_from_metadata_info(
          model, general, text, classes)
    else:
      tensor_names = _signature_tensor_names(model)
      inputs = [metadata_info.TensorMd(name=name, description=description,
                                       tensor_name=tensor_names['inputs'][name])
                for name, description in info['inputs'].items()]
      if info['class_names']:
        output = classes
      else:
        output = metadata_info.TensorMd(name='prediction',
                                        description=info['output_description'])
      output.tensor_name = next(iter(tensor_names['outputs'].values()))
      writer = metadata_writer.MetadataWriter.create_from_metadata_info(
          model, general, inputs, [output],
          associated_files=[label.file_path for label in labels])
    return bytes(writer.populate())


def _signature_tensor_names(model: bytes) -> Dict[str, Dict[str, str]]:
  """The mobile signature's input and output names -> the model's tensor names."""
  from ai_edge_litert.interpreter import Interpreter  # pylint: disable=import-outside-toplevel
  interpreter = Interpreter(model_content=model)
  runner = interpreter.get_signature_runner(MOBILE)
  return {side: {name: detail['name'] for name, detail in details.items()}
          for side, details in (('inputs', runner.get_input_details()),
                                ('outputs', runner.get_output_details()))}


def read(model: bytes) -> Dict[str, Any]:
  """What an app reads from the file: the metadata as JSON, and the packed files' text."""
  _, metadata, *_ = _support()
  displayer = metadata.MetadataDisplayer.with_model_buffer(model)
  return {'metadata': json.loads(displayer.get_metadata_json()),
          'files': {name: displayer.get_associated_file_buffer(name).decode('utf-8')
                    for name in displayer.get_packed_associated_file_list()}}


def labels(model: bytes) -> Optional[List[str]]:
  """The class names of the output's label file, in output order (None: no label file)."""
  text = read(model)['files'].get(LABELS_FILE)
  return text.splitlines() if text is not None else None


def set_version(model: bytes, version: str) -> bytes:
  """The same file with the metadata's version set (the pusher writes the version it
  publishes); the packed files stay as they are."""
  schema, metadata, *_ = _support()
  displayer = metadata.MetadataDisplayer.with_model_buffer(model)
  model_metadata = schema.ModelMetadataT.InitFromObj(
      schema.ModelMetadata.GetRootAsModelMetadata(displayer.get_metadata_buffer(), 0))
  model_metadata.version = version
  builder = flatbuffers.Builder(0)
  builder.Finish(model_metadata.Pack(builder),
                 metadata.MetadataPopulator.METADATA_FILE_IDENTIFIER)
  populator = metadata.MetadataPopulator.with_model_buffer(model)
  populator.load_metadata_buffer(builder.Output())
  populator.populate()
  return bytes(populator.get_model_buffer())
