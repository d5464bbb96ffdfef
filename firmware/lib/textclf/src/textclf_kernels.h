/* int8 kernel library of the compiled backend.
 *
 * Every kernel reproduces, bit for bit, the int8 path of the TensorFlow Lite Micro kernel of the
 * same operator (reference kernels, double-rounding MultiplyByQuantizedMultiplier, as in the pip
 * `tflite-micro` build). What TFLM computes once in Prepare (quantized multipliers, shifts, zero
 * points, activation ranges, broadcast strides, slice bounds) is computed by the graph compiler
 * (toolchain/emit/ops/) and handed over in a small `const` params struct per call; each struct has
 * a Python dataclass of the same fields there (tests/test_contract.py checks them field by field).
 *
 * Two kinds of kernel, one function per file, named by operator and type:
 * - kernels/reference/<op>_s8.c, tc_<op>_s8: TFLM's reference loops, plain, for every operator;
 * - kernels/optimized/<op>_s8_opt.c, tc_<op>_s8_opt: the same integers by exact shortcuts
 *   (streamed rows, skipped padding windows, dot products four channels at a time; SMLAD on cores
 *   with the DSP extension, kernels/arm_dsp/). The compiler calls these where they apply;
 *   tests compare each with its reference kernel and with TFLM, on the host and on the cores.
 * - kernels/lut/<op>_s8_lut.c, tc_<op>_s8_lut: GATHER, FULLY_CONNECTED and CONV_2D reading a
 *   LUT-compressed constant in place (tc_lut_params below), for either choice of kernels.
 *
 * Conventions:
 * - C99, no malloc, no global mutable state, no recursion. Stack: under 512 bytes per call including
 *   the helpers it calls (largest frame tc_reduce_sum_s8_opt's 64 column sums), except
 *   tc_conv_2d_s8_lut: about 850 bytes on Cortex-M0 and M4 with its 384-byte filter block (the fit
 *   check measures the deepest chain of the model it builds); the other big locals are index
 *   vectors of TC_MAX_DIMS int32_t.
 * - Tensor data is passed as arguments (activations live in the caller's arena, constants in flash).
 *   An output overlaps an input of the same call only where the kernel documents it allows that
 *   (tc_conv_2d_s8_opt's streaming order); everywhere else they are disjoint.
 * - Offsets named `*_offset` for inputs are negated zero points, as in TFLM's params.
 * - Shifts follow TFLM: positive = left shift, negative = right shift.
 * - Integer-only at run time: no float or double in any kernel (TFLM's int8 paths are integer-only).
 */
#ifndef TEXTCLF_KERNELS_H
#define TEXTCLF_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest tensor rank a kernel accepts (TFLM's broadcast helpers go up to 6 as well). The graph
 * compiler reads this and the other TC_MAX_* limits from this header. */
#define TC_MAX_DIMS 6

/* Rescaling of an int32 accumulator to int8, one multiplier per output channel or one for all. */
typedef struct {
    const int32_t *multipliers; /* Q31 significands, `channel_count` or 1 entries */
    const int32_t *shifts;
    int32_t per_channel;    /* 0: entry 0 applies to every channel */
    int32_t output_offset;  /* output zero point */
    int32_t activation_min; /* fused activation, in the output's quantized domain */
    int32_t activation_max;
} tc_requantize_params;

/* Output shape of a broadcasting binary op and where each input advances along each dimension
 * (stride 0 along a broadcast dimension). Adjacent dimensions are merged by the compiler. */
typedef struct {
    int32_t rank;
    int32_t shape[TC_MAX_DIMS];
    int32_t input1_strides[TC_MAX_DIMS];
    int32_t input2_strides[TC_MAX_DIMS];
} tc_broadcast_shape;

/* A reduction: output elements walk the kept dimensions (row-major, the output's order); each sums
 * or maxes over the reduced dimensions. Strides are in input elements. */
typedef struct {
    int32_t kept_rank;
    int32_t kept_shape[TC_MAX_DIMS];
    int32_t kept_strides[TC_MAX_DIMS];
    int32_t reduced_rank;
    int32_t reduced_shape[TC_MAX_DIMS];
    int32_t reduced_strides[TC_MAX_DIMS];
} tc_reduction_shape;

/* GATHER: output[outer][coord][inner] = table[outer][indices[coord]][inner]. An index outside
 * [0, axis_size) (undefined behaviour in TFLM) selects entry 0. */
typedef struct {
    int32_t outer_size;
    int32_t axis_size;
    int32_t index_count;
    int32_t inner_size;
} tc_gather_params;
void tc_gather_s8(const tc_gather_params *params, const int8_t *table, const int32_t *indices,
                  int8_t *output);

/* FULLY_CONNECTED: output[b][c] = requantize(bias[c] + sum_d (input[b][d] + input_offset) *
 * weights[c][d]), symmetric weights. `bias` may be NULL. */
typedef struct {
    int32_t batches;
    int32_t output_depth;
    int32_t accum_depth;
    int32_t input_offset;
    tc_requantize_params requantize;
} tc_fully_connected_params;
void tc_fully_connected_s8(const tc_fully_connected_params *params, const int8_t *input,
                           const int8_t *weights, const int32_t *bias, int8_t *output);
void tc_fully_connected_s8_opt(const tc_fully_connected_params *params, const int8_t *input,
                               const int8_t *weights, const int32_t *bias, int8_t *output);

/* CONV_2D, NHWC input, OHWI symmetric filter (groups = input_depth / filter_input_depth), zero
 * padding. `bias` may be NULL.
 *
 * tc_conv_2d_s8_opt takes the filter either as int8 (`filter`, `packed_filter` NULL) or, for
 * one-group convolutions without x-dilation whose input and output depths are multiples of 4,
 * packed (`packed_filter`, `filter` NULL): widened to int16 and interleaved for the 4-channel dot
 * product, for each block of 4 output channels, each filter row and each run of 4 row values
 * w0..w3, the block's 4 channels in turn as two words {w0 | w2 << 16, w1 | w3 << 16}. The toolchain
 * emits it (toolchain/emit/ops/conv_2d.py). It writes output pixels in order, each after the
 * input under its window is read, and never reads an input pixel left of the current window
 * again: a one-row convolution's output may therefore start below its input and overlap it. */
typedef struct {
    int32_t batches;
    int32_t input_height, input_width, input_depth;
    int32_t filter_height, filter_width, filter_input_depth;
    int32_t output_height, output_width, output_depth;
    int32_t stride_height, stride_width;
    int32_t dilation_height, dilation_width;
    int32_t pad_height, pad_width; /* leading padding */
    int32_t input_offset;
    tc_requantize_params requantize;
} tc_conv_2d_params;
void tc_conv_2d_s8(const tc_conv_2d_params *params, const int8_t *input, const int8_t *filter,
                   const int32_t *bias, int8_t *output);
void tc_conv_2d_s8_opt(const tc_conv_2d_params *params, const int8_t *input, const int8_t *filter,
                       const int32_t *packed_filter, const int32_t *bias, int8_t *output);

/* BATCH_MATMUL: output[batch][m][n] = requantize(sum_k (lhs[m][k] + lhs_offset) *
 * (rhs[k][n] + rhs_offset)); adj_x / adj_y mean the operand is stored transposed. Up to three batch
 * dimensions, broadcast with stride 0. */
typedef struct {
    int32_t batch_shape[3];
    int32_t lhs_batch_strides[3];
    int32_t rhs_batch_strides[3];
    int32_t rows;  /* m */
    int32_t cols;  /* n */
    int32_t depth; /* k */
    int32_t adj_x;
    int32_t adj_y;
    int32_t lhs_offset;
    int32_t rhs_offset;
    int32_t output_multiplier;
    int32_t output_shift;
    int32_t output_offset;
    int32_t activation_min;
    int32_t activation_max;
} tc_batch_matmul_params;
void tc_batch_matmul_s8(const tc_batch_matmul_params *params, const int8_t *lhs, const int8_t *rhs,
                        int8_t *output);
void tc_batch_matmul_s8_opt(const tc_batch_matmul_params *params, const int8_t *lhs,
                            const int8_t *rhs, int8_t *output);

/* ADD, SUB and SQUARED_DIFFERENCE: both inputs are brought to a common scale (left_shift, then a
 * multiplier below one each), combined in int32, then rescaled to the output. */
typedef struct {
    tc_broadcast_shape broadcast;
    int32_t left_shift;
    int32_t input1_offset;
    int32_t input1_multiplier;
    int32_t input1_shift;
    int32_t input2_offset;
    int32_t input2_multiplier;
    int32_t input2_shift;
    int32_t output_multiplier;
    int32_t output_shift;
    int32_t output_offset;
    int32_t activation_min;
    int32_t activation_max;
} tc_rescaled_binary_params;
void tc_add_s8(const tc_rescaled_binary_params *params, const int8_t *input1, const int8_t *input2,
               int8_t *output);
void tc_sub_s8(const tc_rescaled_binary_params *params, const int8_t *input1, const int8_t *input2,
               int8_t *output);
void tc_squared_difference_s8(const tc_rescaled_binary_params *params, const int8_t *input1,
                              const int8_t *input2, int8_t *output);

/* MUL: output = requantize((input1 + input1_offset) * (input2 + input2_offset)). */
typedef struct {
    tc_broadcast_shape broadcast;
    int32_t input1_offset;
    int32_t input2_offset;
    int32_t output_multiplier;
    int32_t output_shift;
    int32_t output_offset;
    int32_t activation_min;
    int32_t activation_max;
} tc_mul_params;
void tc_mul_s8(const tc_mul_params *params, const int8_t *input1, const int8_t *input2,
               int8_t *output);

/* SUM and MEAN: requantize(sum(input) - input_zero_point * count), count = elements per sum. For
 * MEAN the compiler folds 1/count into multiplier and shift exactly as TFLM's Eval does, so one
 * kernel serves both. */
typedef struct {
    tc_reduction_shape shape;
    int32_t input_zero_point;
    int32_t multiplier;
    int32_t shift;
    int32_t output_zero_point;
} tc_reduce_sum_params;
void tc_reduce_sum_s8(const tc_reduce_sum_params *params, const int8_t *input, int8_t *output);
void tc_reduce_sum_s8_opt(const tc_reduce_sum_params *params, const int8_t *input, int8_t *output);

/* REDUCE_MAX (input and output share scale and zero point, as TFLM requires). */
typedef struct {
    tc_reduction_shape shape;
} tc_reduce_max_params;
void tc_reduce_max_s8(const tc_reduce_max_params *params, const int8_t *input, int8_t *output);
void tc_reduce_max_s8_opt(const tc_reduce_max_params *params, const int8_t *input, int8_t *output);

/* SOFTMAX over the last dimension; int8 output with scale 1/256 and zero point -128. */
typedef struct {
    int32_t outer_size;
    int32_t depth;
    int32_t input_multiplier;
    int32_t input_left_shift;
    int32_t diff_min;
} tc_softmax_params;
void tc_softmax_s8(const tc_softmax_params *params, const int8_t *input, int8_t *output);

/* LOGISTIC and TANH: input scaled to Q4.27 fixed point, gemmlowp's fixed-point function, rescaled
 * to the output (logistic: scale 1/256, zero point -128; tanh: scale 1/128, zero point 0). */
typedef struct {
    int32_t count;
    int32_t input_zero_point;
    int32_t input_range_radius;
    int32_t input_multiplier;
    int32_t input_left_shift;
} tc_fixed_point_activation_params;
void tc_logistic_s8(const tc_fixed_point_activation_params *params, const int8_t *input,
                    int8_t *output);
void tc_tanh_s8(const tc_fixed_point_activation_params *params, const int8_t *input,
                int8_t *output);

/* RSQRT. An input at the zero point gives 127; an input below it (a negative real value, for which
 * TFLM's Invoke fails) is treated the same way. */
typedef struct {
    int32_t count;
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t output_multiplier;
    int32_t output_shift;
} tc_rsqrt_params;
void tc_rsqrt_s8(const tc_rsqrt_params *params, const int8_t *input, int8_t *output);

/* QUANTIZE int8 -> int8: output = requantize(input - input_zero_point). */
typedef struct {
    int32_t count;
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t multiplier;
    int32_t shift;
} tc_quantize_params;
void tc_quantize_s8(const tc_quantize_params *params, const int8_t *input, int8_t *output);

/* CONCATENATION (inputs share the output's scale and zero point, as TFLM requires): for each of
 * `outer_size` blocks, the inputs' blocks of `input_block_sizes[i]` bytes are copied one after the
 * other. */
#define TC_MAX_CONCAT_INPUTS 10
typedef struct {
    int32_t input_count;
    int32_t outer_size;
    int32_t input_block_sizes[TC_MAX_CONCAT_INPUTS];
} tc_concatenation_params;
void tc_concatenation_s8(const tc_concatenation_params *params, const int8_t *const *inputs,
                         int8_t *output);

/* STRIDED_SLICE on up to 4 dimensions (TFLM's limit), with start / stop / stride per dimension
 * already resolved from the masks; shrunk axes have stop = start + 1. */
typedef struct {
    int32_t input_shape[4];
    int32_t start[4];
    int32_t stop[4];
    int32_t stride[4];
} tc_strided_slice_params;
void tc_strided_slice_s8(const tc_strided_slice_params *params, const int8_t *input,
                         int8_t *output);

/* TRANSPOSE: output is written in order; input_strides[d] is how far the input advances when
 * output dimension d advances. */
typedef struct {
    int32_t rank;
    int32_t output_shape[TC_MAX_DIMS];
    int32_t input_strides[TC_MAX_DIMS];
} tc_transpose_params;
void tc_transpose_s8(const tc_transpose_params *params, const int8_t *input, int8_t *output);

/* LUT-compressed constants (TensorFlow Lite Micro's DECODE format, toolchain/compression.py),
 * read in place by the _lut kernels below instead of being decoded into RAM first. Element p of the
 * tensor (row-major) is
 *     values[((p / channel_run) % channels) * table_stride + index(p)]
 * where index(p) is the bit_width bits of `indices` starting at bit p * bit_width, most significant
 * bit first (one stream over the whole tensor; zero bits fill its last byte). One table:
 * channels = 1, channel_run = the element count; tables along axis 0: channel_run = elements per
 * channel; tables along the last axis: channel_run = 1. The toolchain validates the file so that
 * 1 <= bit_width <= 7, every index < table_stride, `indices` holds ceil(count * bit_width / 8)
 * bytes and `values` channels * table_stride, and count * bit_width < 2^31: the kernels never read
 * outside either array. Decoding is integer table lookup, so the kernels compute TFLM's integers
 * on the decoded tensor exactly. */
typedef struct {
    const uint8_t *indices;
    const int8_t *values;
    int32_t bit_width;
    int32_t table_stride;
    int32_t channels;
    int32_t channel_run;
} tc_lut_params;

/* GATHER from a compressed table: only the rows it reads are decoded, straight into the output. */
typedef struct {
    tc_gather_params gather;
    tc_lut_params table;
} tc_gather_lut_params;
void tc_gather_s8_lut(const tc_gather_lut_params *params, const int32_t *indices, int8_t *output);

/* FULLY_CONNECTED with compressed weights [output_depth rows of accum_depth]. */
typedef struct {
    tc_fully_connected_params fully_connected;
    tc_lut_params weights;
} tc_fully_connected_lut_params;
void tc_fully_connected_s8_lut(const tc_fully_connected_lut_params *params, const int8_t *input,
                               const int32_t *bias, int8_t *output);

/* CONV_2D with a compressed OHWI filter. Where up to 4 channels' filters fit a 384-byte stack
 * buffer, each such block is decoded once per call and swept over the output pixels, so the output
 * is written block by block, not pixel after pixel: it must not overlap the input (no streaming).
 * Larger filters are decoded window by window. */
typedef struct {
    tc_conv_2d_params conv;
    tc_lut_params filter;
} tc_conv_2d_lut_params;
void tc_conv_2d_s8_lut(const tc_conv_2d_lut_params *params, const int8_t *input,
                       const int32_t *bias, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TEXTCLF_KERNELS_H */
