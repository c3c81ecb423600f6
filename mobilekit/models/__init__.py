"""The ground floor for models: the one Keras loader and the one .tflite reader/runner. Imports
no stage."""
