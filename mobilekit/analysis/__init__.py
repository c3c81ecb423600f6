"""Host-side checks of a .tflite model: inspect, delegate compatibility, evaluate."""
