"""The bottom layer: process set-up before TensorFlow (env), safe names (names) and the
SavedModel's signature names (signature_names). It imports nothing of the project, so every
layer above (models, components, pipeline, kubeflow) may use it."""
