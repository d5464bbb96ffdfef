/* TFLite Micro backend context (C++). Included by textclf.h in C++ sources when
 * TEXTCLF_BACKEND_TFLM is defined; C sources see the context as an incomplete type. */
#ifndef TEXTCLF_TFLM_H
#define TEXTCLF_TFLM_H

#ifndef __cplusplus
#error "the TFLite Micro backend is C++: build the application as C++ (e.g. main_arduino.cpp)"
#endif

#include <stdint.h>

#if defined(ARDUINO)
#include <Chirale_TensorFlowLite.h> /* the Arduino TFLM port: must come before TFLM headers */
#endif
#include "generated/tc_op_resolver.h"
#include "tc_model_config.h"
#include "tensorflow/lite/micro/micro_interpreter.h"

/* Everything the interpreter needs lives here; the caller keeps it in static storage. */
struct textclf_context {
    alignas(16) uint8_t arena[TC_TFLM_ARENA_BYTES];
    TcOpResolver resolver;
    alignas(tflite::MicroInterpreter) unsigned char interpreter_storage[sizeof(tflite::MicroInterpreter)];
    tflite::MicroInterpreter *interpreter;
};

#endif /* TEXTCLF_TFLM_H */
