// org.tensorflow.lite.DataType — https://ai.google.dev/edge/api/tflite/java/org/tensorflow/lite/DataType
// Compile-check stub: the constants of tensorflow/lite/java/src/main/java/org/tensorflow/lite/DataType.java.
package org.tensorflow.lite;

public enum DataType {
    FLOAT32, INT32, UINT8, INT64, STRING, BOOL, INT16, INT8;

    public int byteSize() { throw new RuntimeException("Stub!"); }
}
