/* Passes that NumPy makes many times over each token or byte, in C: the tokeniser's hashes,
 * sentence starts and glued-number marks, the encoded-run search, bitmap probes, sorted
 * searches, shingles, the keyed-value cache, and the rewrite tier's rare-lemma hits and pairs.
 *
 * Each function here does exactly what a NumPy or Python function of dlp does (named in
 * its comment), in one pass over the data instead of a dozen: tests/test_speedups.py
 * compares both on random input. The extension is optional: built where a C compiler is at hand, and
 * without it dlp runs the NumPy code. Buffers come through the buffer protocol (NumPy
 * arrays, bytes), so nothing here depends on NumPy's headers.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(address, write) __builtin_prefetch((address), (write))
#else
#define PREFETCH(address, write) ((void)0)
#endif
/* How many queries ahead a probe of a large bitmap asks for its byte: a bitmap of megabytes is
 * seldom cached mid-scan, and on this virtual machine a miss takes long enough that 16 ahead
 * hid a third of it and 256 nearly all (fingerprint probes of 40 MB of mail: 37 -> 10 ms). */
#define AHEAD 256

#if defined(__GNUC__) || defined(__clang__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

static inline uint64_t fmix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    h *= 0xC4CEB93FE53EC34BULL;
    h ^= h >> 33;
    return h;
}

/* Eight bytes of `p` from `at`, little-endian, zeros past `n`. */
static inline uint64_t word_at(const uint8_t *p, Py_ssize_t n, Py_ssize_t at) {
    uint64_t w = 0;
    if (at + 8 <= n) {
        memcpy(&w, p + at, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w);
#endif
        return w;
    }
    for (Py_ssize_t k = 0; at + k < n && k < 8; k++)
        w |= (uint64_t)p[at + k] << (8 * k);
    return w;
}

static inline uint64_t low_bytes(Py_ssize_t k) {  /* a mask of the k (0..8) low bytes */
    return k >= 8 ? ~0ULL : ((1ULL << (8 * k)) - 1);
}

/* floor(log2(n)), 0 for n < 2: the bits that index a table of n slots or a bitmap of n bits
 * (which must then be exactly 1 << bits for a table). */
static int log2_floor(Py_ssize_t n) {
    int bits = 0;
    while (((Py_ssize_t)1 << (bits + 1)) <= n)
        bits++;
    return bits;
}

static int get(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, int writable, const char *what) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    if (itemsize && view->itemsize != itemsize) {
        PyErr_Format(PyExc_TypeError, "%s: items of %zd bytes expected, got %zd", what, itemsize, view->itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

typedef struct {
    PyObject *obj;
    Py_buffer *view;
    Py_ssize_t itemsize;  /* 0: any */
    int writable;
    const char *what;
} Want;

/* The buffers of several objects (`get` each); on failure, none is held. */
static int get_all(const Want *want, int n) {
    for (int i = 0; i < n; i++)
        if (get(want[i].obj, want[i].view, want[i].itemsize, want[i].writable, want[i].what) < 0) {
            while (i-- > 0)
                PyBuffer_Release(want[i].view);
            return -1;
        }
    return 0;
}

static void release_all(const Want *want, int n) {
    for (int i = 0; i < n; i++)
        PyBuffer_Release(want[i].view);
}

/* What a function that lists offsets returns: NULL with MemoryError when `failed`, with
 * ValueError(`message`) when not `ok`; else the bytes of `a` (n entries), or of `a` and `b`
 * as a pair when `b` is given. */
static PyObject *listed(int failed, int ok, const char *message, const int64_t *a, Py_ssize_t n,
                        const int64_t *b, Py_ssize_t nb) {
    if (failed)
        return PyErr_NoMemory();
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, message);
        return NULL;
    }
    if (b == NULL)
        return PyBytes_FromStringAndSize((const char *)a, n * (Py_ssize_t)sizeof(int64_t));
    return Py_BuildValue("(y#y#)", (const char *)a, n * (Py_ssize_t)sizeof(int64_t), (const char *)b,
                         nb * (Py_ssize_t)sizeof(int64_t));
}

/* The buffers released; None, or ValueError(`message`) when not `ok`. */
static PyObject *done(const Want *want, int n, int ok, const char *message) {
    release_all(want, n);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, message);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Whether the first buffer holds code points of one byte or four; if not, all are released. */
static int code_points(const Want *want, int n) {
    if (want[0].view->itemsize == 1 || want[0].view->itemsize == 4)
        return 1;
    release_all(want, n);
    PyErr_SetString(PyExc_TypeError, "norm: uint8 or uint32 code points expected");
    return 0;
}

/* Two glued CamelCase words are read as both (a half cut) from this many characters on (ToIts,
 * OfThe: normalise.HALF_CHARS); a run cut into three words or more needs three a word. */
#define HALF_CHARS 4

/* Appends `value` to a growing array (doubled when full); 0 when out of memory. */
static int push(int64_t **items, Py_ssize_t *count, Py_ssize_t *cap, Py_ssize_t value) {
    if (*count == *cap) {
        int64_t *grown = PyMem_RawRealloc(*items, 2 * *cap * sizeof(int64_t));
        if (grown == NULL)
            return 0;
        *items = grown;
        *cap *= 2;
    }
    (*items)[(*count)++] = value;
    return 1;
}

/* A half cut at `cut`, kept in order among those pushed before it (the cuts of a block come from
 * two passes, its humps' and its falls'). 0 when out of memory. */
static int push_half(int64_t **halves, Py_ssize_t *nhalves, Py_ssize_t *cap_halves, int64_t cut) {
    if (!push(halves, nhalves, cap_halves, cut))
        return 0;
    int64_t *v = *halves;
    for (Py_ssize_t j = *nhalves - 1; j > 0 && v[j - 1] > v[j]; j--) {
        int64_t x = v[j];
        v[j] = v[j - 1];
        v[j - 1] = x;
    }
    return 1;
}

/* normalise._ascii_hashes before its last two steps: for each token norm[start:end] of an
 * ASCII text, its first eight bytes (masked to its length) with the length in the top byte,
 * then fmix64 and the next eight bytes folded in, up to offset 56; and fmix64 of the lot.
 * (Tokens longer than 64 characters are hashed again with BLAKE2b by the caller.) */
/* The hash of the token p[at:at + length] (ASCII, a byte a character): its first eight bytes and
 * its length, then each further eight bytes folded in, up to 64 (normalise._ascii_hashes hashes
 * longer tokens whole with BLAKE2b). */
static inline uint64_t ascii_hash(const uint8_t *p, Py_ssize_t n, Py_ssize_t at, Py_ssize_t length) {
    uint64_t v = word_at(p, n, at) & low_bytes(length < 8 ? length : 8);
    v ^= (uint64_t)length << 56;
    for (Py_ssize_t off = 8; off < 64 && off < length; off += 8) {
        Py_ssize_t rest = length - off;
        v = fmix64(v) ^ (word_at(p, n, at + off) & low_bytes(rest < 8 ? rest : 8));
    }
    return fmix64(v);
}

static PyObject *ascii_hashes(PyObject *self, PyObject *args) {
    PyObject *o_norm, *o_starts, *o_ends, *o_out;
    if (!PyArg_ParseTuple(args, "OOOO", &o_norm, &o_starts, &o_ends, &o_out))
        return NULL;
    Py_buffer norm, starts, ends, out;
    Want want[] = {{o_norm, &norm, 1, 0, "norm"}, {o_starts, &starts, 8, 0, "starts"}, {o_ends, &ends, 8, 0, "ends"},
                   {o_out, &out, 8, 1, "out"}};
    if (get_all(want, 4) < 0)
        return NULL;
    Py_ssize_t m = starts.len / 8, n = norm.len;
    int ok = ends.len / 8 == m && out.len / 8 == m;
    if (ok) {
        const uint8_t *p = norm.buf;
        const int64_t *s = starts.buf, *e = ends.buf;
        uint64_t *h = out.buf;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < m; i++) {
            Py_ssize_t at = s[i], length = e[i] - s[i];
            if (at < 0 || at > n || length < 0) {
                ok = 0;
                break;
            }
            h[i] = ascii_hash(p, n, at, length);
        }
        Py_END_ALLOW_THREADS
    }
    return done(want, 4, ok, "token bounds do not fit the text or each other");
}

/* normalise._sentence_flags after its first flag: `flag` on the token after each sentence end,
 * where a token "after" position p is the first whose start is past p (searchsorted right).
 * A sentence ends at . ! or ? followed by white space (space, \t \n \v \f \r), at a blank line
 * (\n\n or \n\r\n), at a stop that is the text's last character, and, in text with code
 * points beyond a byte, at an ideographic, Devanagari or Arabic stop. With `flags` None, the
 * flagged tokens instead, token 0 first (fingerprint.rewrite.Sentences wants only those). */
static inline int is_stop(uint32_t c) { return c == 46 || c == 33 || c == 63; }
static inline int is_space(uint32_t c) { return c == 32 || (c >= 9 && c <= 13); }
static uint8_t END_CHAR[256];  /* . ! ? and \n: where a sentence may end */
static inline int is_wide_stop(uint32_t c) {
    return c == 0x3002 || c == 0x0964 || c == 0x0965 || c == 0x061F || c == 0x06D4;
}

static PyObject *sentence_flags(PyObject *self, PyObject *args) {
    PyObject *o_norm, *o_starts, *o_ends, *o_flags;
    int flag;
    if (!PyArg_ParseTuple(args, "OOOOi", &o_norm, &o_starts, &o_ends, &o_flags, &flag))
        return NULL;
    Py_buffer norm, starts, ends, flags;
    int listing = o_flags == Py_None;  /* None: list the flagged tokens instead (int64 bytes, 0 first) */
    Want want[] = {{o_norm, &norm, 0, 0, "norm"}, {o_starts, &starts, 8, 0, "starts"}, {o_ends, &ends, 8, 0, "ends"},
                   {o_flags, &flags, 1, 1, "flags"}};
    if (get_all(want, listing ? 3 : 4) < 0 || !code_points(want, listing ? 3 : 4))
        return NULL;
    Py_ssize_t n = norm.len / norm.itemsize, m = starts.len / 8, count = 0, cap = 256;
    int ok = (listing || flags.len == m) && ends.len == starts.len, failed = 0;
    int64_t *first = NULL;
    if (listing) {
        first = PyMem_RawMalloc(cap * sizeof(int64_t));
        failed = first == NULL || (m > 0 && !push(&first, &count, &cap, 0));
    }
    if (ok && !failed && m > 0) {
        const int64_t *s = starts.buf, *e = ends.buf;
        uint8_t *f = listing ? NULL : flags.buf;
        const uint8_t *p8 = norm.itemsize == 1 ? norm.buf : NULL;
        const uint32_t *p32 = norm.itemsize == 4 ? norm.buf : NULL;
        Py_BEGIN_ALLOW_THREADS
        /* token i is flagged by an end at p when s[i - 1] <= p < s[i] (the text before the
         * first token flags token 0, which is flagged anyway; after the last start, nothing).
         * A token's own characters are letters or digits, never an end: only the gap from
         * the end of token i - 1 is read. */
        for (Py_ssize_t i = 1; i < m; i++) {
            Py_ssize_t from = e[i - 1] > s[i - 1] ? e[i - 1] : s[i - 1];
            Py_ssize_t lo = from < 0 ? 0 : from, hi = s[i] < n ? s[i] : n;
            for (Py_ssize_t q = lo; q < hi; q++) {
                uint32_t c = p8 ? p8[q] : p32[q];
                if (c < 256 ? !END_CHAR[c] : !(p32 && is_wide_stop(c)))
                    continue;
                int mark;
                if (c == 10) {
                    uint32_t c1 = q + 1 < n ? (p8 ? p8[q + 1] : p32[q + 1]) : 0;
                    uint32_t c2 = q + 2 < n ? (p8 ? p8[q + 2] : p32[q + 2]) : 0;
                    mark = q + 2 < n && (c1 == 10 || (c1 == 13 && c2 == 10));
                } else if (c >= 256)
                    mark = 1;
                else
                    mark = q + 1 == n || is_space(p8 ? p8[q + 1] : p32[q + 1]);
                if (mark) {
                    if (f != NULL)
                        f[i] = (uint8_t)flag;
                    else if (!push(&first, &count, &cap, i))
                        failed = 1;
                    break;
                }
            }
            if (failed)
                break;
        }
        Py_END_ALLOW_THREADS
    }
    if (!listing)
        return done(want, 4, ok, "flags: one per token expected");
    release_all(want, 3);
    PyObject *result = listed(failed, ok, "token bounds: as many ends as starts expected", first, count, NULL, 0);
    PyMem_RawFree(first);
    return result;
}

/* encoded._Base64Starts and encoded._HexStarts: the start of every run of the base64
 * alphabet (A-Z a-z 0-9 + / - _) that is `min_run` long or ends a line (blanks before the line
 * break or not) after `first` characters or more, less those encoded._candidates would read and
 * turn down (see below); and every position where eight hex bytes begin, each followed by the
 * same number, one to three, of separators (space \t : , ; . \r \n -); where "0000000" starts a
 * line, blanks aside (encoded._offsets); and how many "0x" or "0X" there are. Three bytes
 * objects of int64 offsets, each in order, and the count. */
static uint8_t CLASS[256];  /* bit 0: hex digit; bit 1: separator of hex bytes; bit 2: base64 alphabet */

static int compare_offsets(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* How many bits are set: a few at most, here (without -mpopcnt, __builtin_popcountll is a call). */
static inline int bits_set(uint64_t m) {
    int count = 0;
    for (; m; m &= m - 1)
        count++;
    return count;
}

#if defined(__SSE2__)
#include <emmintrin.h>
#define WIDE_CLASSES 1

/* SSE2 byte masks (0xFF where true) of 16 bytes: in [lo, hi], equal to c. */
static inline __m128i bytes_within(__m128i v, int lo, int hi) {
    __m128i d = _mm_sub_epi8(v, _mm_set1_epi8((char)lo));
    return _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8((char)(hi - lo))), d);
}

static inline __m128i bytes_equal(__m128i v, int c) { return _mm_cmpeq_epi8(v, _mm_set1_epi8((char)c)); }


/* Which of 16 bytes have CLASS bit 4 (`bits` 4: the base64 alphabet) or bit 0 or 1 (`bits` 3:
 * a hex digit or a separator of hex bytes), computed without the table. The digits share a
 * range with "+", "-" and "/" (0x2B-0x39, less "," and ".") and with ",", "-", ".", ":" and ";"
 * (0x2C-0x3B, less "/"): one range test and one or two exceptions instead of one test each. */
static inline __m128i class16(__m128i v, unsigned bits) {
    __m128i lower = _mm_or_si128(v, _mm_set1_epi8(0x20));
    if (bits == 4)
        return _mm_or_si128(_mm_or_si128(_mm_andnot_si128(_mm_or_si128(bytes_equal(v, ','), bytes_equal(v, '.')),
                                                          bytes_within(v, '+', '9')),
                                         bytes_within(lower, 'a', 'z')),
                            bytes_equal(v, '_'));
    __m128i blank = _mm_or_si128(_mm_or_si128(bytes_within(v, '\t', '\n'), bytes_equal(v, '\r')), bytes_equal(v, ' '));
    return _mm_or_si128(_mm_or_si128(_mm_andnot_si128(bytes_equal(v, '/'), bytes_within(v, ',', ';')),
                                     bytes_within(lower, 'a', 'f')),
                        blank);
}

/* Bit i: whether byte p[i] (0 <= i < 64) has the class (`class16`). */
static inline uint64_t class64(const uint8_t *p, unsigned bits) {
    uint64_t m = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * k));
        m |= (uint64_t)(uint16_t)_mm_movemask_epi8(class16(v, bits)) << (16 * k);
    }
    return m;
}

/* Bits of 64 bytes: capitals A-Z (`upper`), small letters a-z (`small`), digits 0-9 (`digit`). */
static inline void ascii_kinds64(const uint8_t *p, uint64_t *upper, uint64_t *small, uint64_t *digit) {
    *upper = *small = *digit = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * k));
        *upper |= (uint64_t)(uint16_t)_mm_movemask_epi8(bytes_within(v, 'A', 'Z')) << (16 * k);
        *small |= (uint64_t)(uint16_t)_mm_movemask_epi8(bytes_within(v, 'a', 'z')) << (16 * k);
        *digit |= (uint64_t)(uint16_t)_mm_movemask_epi8(bytes_within(v, '0', '9')) << (16 * k);
    }
}


/* Bit i: whether the `width` bytes up to byte i of the stream (1 <= width <= 64) all have the
 * class, given `block`, the classes of the stream's next 64 bytes (bit i: byte i), and `*run`,
 * how many bytes of the class end the stream before them (at most 64; brought up to date).
 * Within the block, the runs are found by doubling (a bit stays when the bit `s` below it
 * does, s = 1, 2, 4 ... until the run is `width` long); the run the block starts with adds to
 * `*run`. A count, not the levels of the block before: nothing of the doubling goes through
 * memory from one block to the next (the encoded-run search spent 40% of its time there). */
static inline uint64_t run_ends(uint64_t block, Py_ssize_t *run, Py_ssize_t width) {
    uint64_t ends = block;
    for (Py_ssize_t len = 1; len < width;) {
        Py_ssize_t step = len < width - len ? len : width - len;
        ends &= ends << step;
        len += step;
    }
    /* bits below width - 1: the run that began before the block, while it lasts in it */
    Py_ssize_t lead = ~block ? __builtin_ctzll(~block) : 64, from = width - 1 - *run, to = width - 1;
    if (from < 0)
        from = 0;
    if (lead < to)
        to = lead;
    if (from < to)
        ends |= ((1ULL << to) - 1) & ~((1ULL << from) - 1);
    *run = ~block ? __builtin_clzll(~block) : (*run + 64 > 64 ? 64 : *run + 64);
    return ends;
}

/* `next_stretch` 64 bytes at a time: from *j on, the first byte that ends `width` (at most 64)
 * bytes in a row of the class (`class64`; bytes before *j count as not). Returns that byte's
 * offset, or -1 with *j moved to where the bytes that are left (fewer than 64, or a run that
 * reaches them) must be read one by one. */
static Py_ssize_t first_run_end(const uint8_t *p, Py_ssize_t n, Py_ssize_t *j, Py_ssize_t width, unsigned bits) {
    Py_ssize_t run = 0, at = *j;
    for (; at + 64 <= n; at += 64) {
        uint64_t ends = run_ends(class64(p + at, bits), &run, width);
        if (ends)
            return at + __builtin_ctzll(ends);
    }
    while (at > *j && (CLASS[p[at - 1]] & bits))  /* a run that goes on past the blocks: from its start */
        at--;
    *j = at;
    return -1;
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define AVX2_AT_HAND 1
/* `first_run_end` and `encoded_marks`' masks 32 bytes a step where the processor has AVX2 (chosen
 * once, at import: `use_avx2`): the same ranges and exceptions as `class16`, half the instructions. */
#define AVX2 __attribute__((target("avx2")))
static AVX2 inline __m256i bytes_within32(__m256i v, int lo, int hi) {
    __m256i d = _mm256_sub_epi8(v, _mm256_set1_epi8((char)lo));
    return _mm256_cmpeq_epi8(_mm256_min_epu8(d, _mm256_set1_epi8((char)(hi - lo))), d);
}

static AVX2 inline __m256i bytes_equal32(__m256i v, int c) { return _mm256_cmpeq_epi8(v, _mm256_set1_epi8((char)c)); }

static AVX2 inline __m256i class32(__m256i v, unsigned bits) {
    __m256i lower = _mm256_or_si256(v, _mm256_set1_epi8(0x20));
    if (bits == 4)
        return _mm256_or_si256(
            _mm256_or_si256(_mm256_andnot_si256(_mm256_or_si256(bytes_equal32(v, ','), bytes_equal32(v, '.')),
                                                bytes_within32(v, '+', '9')),
                            bytes_within32(lower, 'a', 'z')),
            bytes_equal32(v, '_'));
    __m256i blank = _mm256_or_si256(_mm256_or_si256(bytes_within32(v, '\t', '\n'), bytes_equal32(v, '\r')),
                                    bytes_equal32(v, ' '));
    return _mm256_or_si256(_mm256_or_si256(_mm256_andnot_si256(bytes_equal32(v, '/'), bytes_within32(v, ',', ';')),
                                           bytes_within32(lower, 'a', 'f')),
                           blank);
}

static AVX2 Py_ssize_t first_run_end_avx2(const uint8_t *p, Py_ssize_t n, Py_ssize_t *j, Py_ssize_t width,
                                          unsigned bits) {
    Py_ssize_t run = 0, at = *j;
    for (; at + 64 <= n; at += 64) {
        uint64_t block = (uint64_t)(uint32_t)_mm256_movemask_epi8(class32(_mm256_loadu_si256((const __m256i *)(p + at)), bits))
                         | (uint64_t)(uint32_t)_mm256_movemask_epi8(
                               class32(_mm256_loadu_si256((const __m256i *)(p + at + 32)), bits)) << 32;
        uint64_t ends = run_ends(block, &run, width);
        if (ends)
            return at + __builtin_ctzll(ends);
    }
    while (at > *j && (CLASS[p[at - 1]] & bits))
        at--;
    *j = at;
    return -1;
}
#endif

static int use_avx2;  /* set at import where the processor has AVX2 and DLP_SPEEDUPS_AVX2 is not "0" */

/* Bit i: whether p[i] == c, for 64 bytes. */
static inline uint64_t equal64(const uint8_t *p, int c) {
    uint64_t m = 0;
    for (int k = 0; k < 4; k++)
        m |= (uint64_t)(uint16_t)_mm_movemask_epi8(bytes_equal(_mm_loadu_si128((const __m128i *)(p + 16 * k)), c))
             << (16 * k);
    return m;
}

#endif

/* The next stretch at or after *j of `width` bytes or more whose class has one of `bits`, as
 * [*s, *e), found by skipping: a byte `width` - 1 on that has none of them rules out every
 * stretch before it (where SSE2 is at hand, 64 bytes at a time). 0 when there is none. The
 * byte before *j has none of the bits (or *j is 0), and so has the byte before the *j it leaves. */
static int next_stretch(const uint8_t *p, Py_ssize_t n, Py_ssize_t *j, Py_ssize_t width, unsigned bits,
                        Py_ssize_t *s, Py_ssize_t *e) {
#ifdef WIDE_CLASSES
    if (width <= 64 && (bits == 4 || bits == 3)) {
#ifdef AVX2_AT_HAND
        Py_ssize_t end = use_avx2 ? first_run_end_avx2(p, n, j, width, bits) : first_run_end(p, n, j, width, bits);
#else
        Py_ssize_t end = first_run_end(p, n, j, width, bits);
#endif
        if (end >= 0) {
            Py_ssize_t from = end - width + 1, to = end + 1;
            while (from > *j && (CLASS[p[from - 1]] & bits))
                from--;
            while (to < n && (CLASS[p[to]] & bits))
                to++;
            *j = to + 1;
            *s = from;
            *e = to;
            return 1;
        }
    }
#endif
    while (*j + width <= n) {
        Py_ssize_t k = *j + width - 1;
        if (!(CLASS[p[k]] & bits)) {
            *j = k + 1;
            continue;
        }
        Py_ssize_t from = k, to = k + 1;
        while (from > *j && (CLASS[p[from - 1]] & bits))
            from--;
        while (to < n && (CLASS[p[to]] & bits))
            to++;
        *j = to + 1;
        if (to - from >= width) {
            *s = from;
            *e = to;
            return 1;
        }
    }
    return 0;
}

static inline int is_base64(uint8_t c) { return CLASS[c] & 4; }
static inline int is_blank_or_tab(uint8_t c) { return c == ' ' || c == '\t'; }

/* Whether `(?==*{0,2}[ \t]*(?:[\r\n]|$))` holds at r (what ends a line of encoded._BASE64). */
static int line_ends(const uint8_t *p, Py_ssize_t n, Py_ssize_t r) {
    for (int eq = 0; r < n && p[r] == '=' && eq < 2; eq++)
        r++;
    while (r < n && is_blank_or_tab(p[r]))
        r++;
    return r == n || p[r] == '\r' || p[r] == '\n';
}

/* The end of encoded._BASE64's match at s, where a run of 16 characters of the alphabet or more
 * starts: that run, then each following line (blanks, one line break, blanks) that is a run of
 * four or more characters of the alphabet, or of two or three before "=", ending the line
 * (padding and blanks aside); then up to two "=". A line that is not stops the match before
 * its line break. (With greedy runs no backtracking can do better: a shorter run is followed
 * by a character of the alphabet, which neither ends a line nor is "=".) */
static Py_ssize_t base64_match_end(const uint8_t *p, Py_ssize_t n, Py_ssize_t s) {
    Py_ssize_t e = s;
    while (e < n && is_base64(p[e]))
        e++;
    for (;;) {
        Py_ssize_t q = e;
        while (q < n && is_blank_or_tab(p[q]))
            q++;
        if (q < n && p[q] == '\r')
            q += (q + 1 < n && p[q + 1] == '\n') ? 2 : 1;
        else if (q < n && p[q] == '\n')
            q++;
        else
            break;
        while (q < n && is_blank_or_tab(p[q]))
            q++;
        Py_ssize_t r = q;
        while (r < n && is_base64(p[r]))
            r++;
        int ok = (r - q >= 4 || (r - q >= 2 && r < n && p[r] == '=')) && line_ends(p, n, r);
        if (!ok)
            break;
        e = r;
    }
    for (int eq = 0; e < n && p[e] == '=' && eq < 2; eq++)
        e++;
    return e;
}

/* arrays.merged: the sorted int64 `array` with the sorted int64 `values` merged in (each
 * value before the entries equal to it, as numpy.insert at numpy.searchsorted puts it), in one
 * pass; as a bytearray of int64. */
static PyObject *merge_sorted(PyObject *self, PyObject *args) {
    PyObject *o_array, *o_values;
    if (!PyArg_ParseTuple(args, "OO", &o_array, &o_values))
        return NULL;
    Py_buffer array, values;
    Want want[] = {{o_array, &array, 8, 0, "array"}, {o_values, &values, 8, 0, "values"}};
    if (get_all(want, 2) < 0)
        return NULL;
    Py_ssize_t n = array.len / 8, k = values.len / 8;
    PyObject *out = PyByteArray_FromStringAndSize(NULL, (n + k) * 8);
    if (out != NULL) {
        const int64_t *a = array.buf, *v = values.buf;
        int64_t *o = (int64_t *)PyByteArray_AS_STRING(out);
        Py_BEGIN_ALLOW_THREADS
        Py_ssize_t i = 0, j = 0, w = 0;
        while (j < k) {  /* few values: the entries before each copied as one block */
            Py_ssize_t lo = i, hi = n;
            while (lo < hi) {
                Py_ssize_t mid = lo + (hi - lo) / 2;
                if (a[mid] < v[j])
                    lo = mid + 1;
                else
                    hi = mid;
            }
            memcpy(o + w, a + i, (size_t)(lo - i) * 8);
            w += lo - i;
            i = lo;
            o[w++] = v[j++];
        }
        memcpy(o + w, a + i, (size_t)(n - i) * 8);
        Py_END_ALLOW_THREADS
    }
    release_all(want, 2);
    return out;
}


/* normalise._join: each token numbered in `joined` (ascending, distinct, each but the last
 * token) runs on through the next one. Everything is written in place: in `norm` (code points
 * of 1 or 4 bytes) the letters of every joined word move to the front of its span and blanks
 * fill the rest of it; `starts` and `ends` (int64) lose the entries of the tokens run into,
 * and a joined word's entry in `ends` becomes the end of its letters. Returns (tokens left,
 * the joined words' numbers among them, where their spans end), the last two as int64 bytes:
 * no array of every token is made (NumPy made three, and each was a mask and a copy). */
static PyObject *join_tokens(PyObject *self, PyObject *args) {
    PyObject *o_norm, *o_starts, *o_ends, *o_joined;
    if (!PyArg_ParseTuple(args, "OOOO", &o_norm, &o_starts, &o_ends, &o_joined))
        return NULL;
    Py_buffer norm, starts, ends, joined;
    Want want[] = {{o_norm, &norm, 0, 1, "norm"}, {o_starts, &starts, 8, 1, "starts"}, {o_ends, &ends, 8, 1, "ends"},
                   {o_joined, &joined, 8, 0, "joined"}};
    if (get_all(want, 4) < 0 || !code_points(want, 4))
        return NULL;
    Py_ssize_t n = norm.len / norm.itemsize, m = starts.len / 8, k = joined.len / 8, words = 0;
    int64_t *s = starts.buf, *e = ends.buf;
    const int64_t *j = joined.buf;
    int ok = ends.len == starts.len;
    for (Py_ssize_t i = 0; ok && i < k; i++) {  /* ascending, distinct, each with a token after it */
        ok = j[i] >= 0 && j[i] + 1 < m && (i == 0 || j[i] > j[i - 1]);
        words += i == 0 || j[i] != j[i - 1] + 1;
    }
    for (Py_ssize_t i = 0; ok && i < k; i++) {  /* the tokens of each joined word in order, inside the text */
        Py_ssize_t t = j[i];
        ok = s[t] >= 0 && s[t] <= e[t] && e[t] <= s[t + 1] && s[t + 1] <= e[t + 1] && e[t + 1] <= n;
    }
    if (!ok) {
        release_all(want, 4);
        PyErr_SetString(PyExc_ValueError, "joined: ascending token numbers, each before another token, and token "
                        "bounds in order inside the text expected");
        return NULL;
    }
    PyObject *o_at = PyBytes_FromStringAndSize(NULL, words * 8);
    PyObject *o_span = o_at ? PyBytes_FromStringAndSize(NULL, words * 8) : NULL;
    PyObject *result = NULL;
    if (o_span != NULL) {
        int64_t *at_out = (int64_t *)PyBytes_AS_STRING(o_at), *span_out = (int64_t *)PyBytes_AS_STRING(o_span);
        uint8_t *p8 = norm.itemsize == 1 ? norm.buf : NULL;
        uint32_t *p32 = norm.itemsize == 4 ? norm.buf : NULL;
        Py_ssize_t t = 0, w = 0, i = 0, g = 0;  /* next token to read, next entry written (w <= t), next joined */
        Py_BEGIN_ALLOW_THREADS
        while (i < k) {
            Py_ssize_t head = j[i];
            while (i + 1 < k && j[i + 1] == j[i] + 1)
                i++;
            Py_ssize_t tail = j[i++] + 1;
            /* the tokens before the word as they are (moved left), then the word */
            memmove(s + w, s + t, (size_t)(head - t) * 8);
            memmove(e + w, e + t, (size_t)(head - t) * 8);
            w += head - t;
            Py_ssize_t to = s[head];
            for (Py_ssize_t u = head; u <= tail; u++) {  /* letters move left, never past their own */
                Py_ssize_t length = e[u] - s[u];
                if (p8)
                    memmove(p8 + to, p8 + s[u], (size_t)length);
                else
                    memmove(p32 + to, p32 + s[u], (size_t)length * 4);
                to += length;
            }
            Py_ssize_t span = e[tail];
            for (Py_ssize_t c = to; c < span; c++) {
                if (p8)
                    p8[c] = 32;
                else
                    p32[c] = 32;
            }
            s[w] = s[head];
            e[w] = to;
            at_out[g] = w++;
            span_out[g++] = span;
            t = tail + 1;
        }
        memmove(s + w, s + t, (size_t)(m - t) * 8);
        memmove(e + w, e + t, (size_t)(m - t) * 8);
        w += m - t;
        Py_END_ALLOW_THREADS
        result = Py_BuildValue("(nOO)", w, o_at, o_span);
    }
    Py_XDECREF(o_at);
    Py_XDECREF(o_span);
    release_all(want, 4);
    return result;
}


/* normalise._links_and_long of token i of m (bounds s, e): a link (one character, the next token
 * one character too and one character on) or a long token (long_at characters or more) listed.
 * 0 when out of memory. */
static inline int link_or_long(const int64_t *s, const int64_t *e, Py_ssize_t i, Py_ssize_t m, Py_ssize_t long_at,
                               int64_t **links, Py_ssize_t *nlinks, Py_ssize_t *cap_links, int64_t **longs,
                               Py_ssize_t *nlongs, Py_ssize_t *cap_longs) {
    int64_t length = e[i] - s[i];
    if (length == 1)
        return !(i + 1 < m && e[i + 1] - s[i + 1] == 1 && s[i + 1] - e[i] == 1) || push(links, nlinks, cap_links, i);
    return length < long_at || push(longs, nlongs, cap_longs, i);
}

/* normalise._letter_spacing and _glued_cuts: the tokens one character long followed, one
 * character further on, by another one (the links of letter-spaced runs, before their
 * spacers are read), and the tokens `long_at` characters long or longer, from their bounds
 * (int64 bytes each). */
static PyObject *links_and_long(PyObject *self, PyObject *args) {
    PyObject *o_starts, *o_ends;
    Py_ssize_t long_at;
    if (!PyArg_ParseTuple(args, "OOn", &o_starts, &o_ends, &long_at))
        return NULL;
    Py_buffer starts, ends;
    Want want[] = {{o_starts, &starts, 8, 0, "starts"}, {o_ends, &ends, 8, 0, "ends"}};
    if (get_all(want, 2) < 0)
        return NULL;
    Py_ssize_t m = starts.len / 8, n1 = 0, cap1 = 1024, nl = 0, capl = 64;
    int ok = ends.len == starts.len;
    int64_t *links = PyMem_RawMalloc(cap1 * sizeof(int64_t)), *longs = PyMem_RawMalloc(capl * sizeof(int64_t));
    int failed = links == NULL || longs == NULL;
    if (ok && !failed) {
        const int64_t *s = starts.buf, *e = ends.buf;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < m && !failed; i++)
            failed = !link_or_long(s, e, i, m, long_at, &links, &n1, &cap1, &longs, &nl, &capl);
        Py_END_ALLOW_THREADS
    }
    release_all(want, 2);
    PyObject *result = listed(failed, ok, "as many ends as starts expected", links, n1, longs, nl);
    PyMem_RawFree(links);
    PyMem_RawFree(longs);
    return result;
}


/* normalise._ascii_lower: of each byte of ASCII text, the byte lower-cased (`norm`), its class
 * (`kind`: 1 a letter, 2 a digit, 0 anything else) and whether it is a capital (`upper`) or a
 * small letter (`small`), 0 or 1: one pass instead of a dozen NumPy ones (16 bytes at a time
 * where SSE2 is at hand). */
static PyObject *ascii_lower(PyObject *self, PyObject *args) {
    PyObject *o_raw, *o_norm, *o_kind, *o_upper, *o_small;
    if (!PyArg_ParseTuple(args, "OOOOO", &o_raw, &o_norm, &o_kind, &o_upper, &o_small))
        return NULL;
    Py_buffer raw, norm, kind, upper, small;
    Want want[] = {{o_raw, &raw, 1, 0, "raw"}, {o_norm, &norm, 1, 1, "norm"}, {o_kind, &kind, 1, 1, "kind"},
                   {o_upper, &upper, 1, 1, "upper"}, {o_small, &small, 1, 1, "small"}};
    if (get_all(want, 5) < 0)
        return NULL;
    Py_ssize_t n = raw.len, i = 0;
    int ok = norm.len == n && kind.len == n && upper.len == n && small.len == n;
    if (ok) {
        const uint8_t *r = raw.buf;
        uint8_t *o = norm.buf, *k = kind.buf, *u = upper.buf, *sm = small.buf;
        Py_BEGIN_ALLOW_THREADS
#ifdef WIDE_CLASSES
        const __m128i one = _mm_set1_epi8(1), two = _mm_set1_epi8(2), case_bit = _mm_set1_epi8(0x20);
        for (; i + 16 <= n; i += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(r + i));
            __m128i cap = bytes_within(v, 'A', 'Z'), low = bytes_within(v, 'a', 'z'), digit = bytes_within(v, '0', '9');
            _mm_storeu_si128((__m128i *)(o + i), _mm_add_epi8(v, _mm_and_si128(cap, case_bit)));
            _mm_storeu_si128((__m128i *)(k + i), _mm_or_si128(_mm_and_si128(_mm_or_si128(cap, low), one),
                                                              _mm_and_si128(digit, two)));
            _mm_storeu_si128((__m128i *)(u + i), _mm_and_si128(cap, one));
            _mm_storeu_si128((__m128i *)(sm + i), _mm_and_si128(low, one));
        }
#endif
        for (; i < n; i++) {
            uint8_t c = r[i], is_cap = (uint8_t)(c - 'A') < 26, is_low = (uint8_t)(c - 'a') < 26;
            o[i] = (uint8_t)(c + (is_cap ? 0x20 : 0));
            k[i] = (uint8_t)((is_cap | is_low) | ((uint8_t)(c - '0') < 10 ? 2 : 0));
            u[i] = is_cap;
            sm[i] = is_low;
        }
        Py_END_ALLOW_THREADS
    }
    return done(want, 5, ok, "norm, kind, upper, small: one byte per byte of raw expected");
}


/* An open-addressing map from code points beyond ASCII (never 0) to small numbers: the distinct
 * code points of a text (a few thousand at most, as a rule) found or numbered one probe or two
 * apiece. */
typedef struct {
    uint32_t *keys;  /* 0: an empty slot */
    int32_t *values;
    Py_ssize_t mask, count;
} CodeMap;

static inline Py_ssize_t code_slot(const CodeMap *m, uint32_t c) {
    Py_ssize_t at = (Py_ssize_t)((c * 0x9E3779B1u) >> 7) & m->mask;
    while (m->keys[at] != 0 && m->keys[at] != c)
        at = (at + 1) & m->mask;
    return at;
}

static int code_map_init(CodeMap *m, Py_ssize_t least) {
    Py_ssize_t size = 1024;
    while (size < 2 * least)
        size *= 2;
    m->keys = PyMem_RawCalloc((size_t)size, sizeof(uint32_t));
    m->values = PyMem_RawMalloc((size_t)size * sizeof(int32_t));
    m->mask = size - 1;
    m->count = 0;
    return m->keys != NULL && m->values != NULL;
}

static void code_map_free(CodeMap *m) {
    PyMem_RawFree(m->keys);
    PyMem_RawFree(m->values);
}

/* c put in the map (numbered by arrival) if it is not there; 0 when out of memory. Doubles at half full. */
static int code_map_add(CodeMap *m, uint32_t c) {
    Py_ssize_t at = code_slot(m, c);
    if (m->keys[at] == c)
        return 1;
    if (2 * (m->count + 1) > m->mask + 1) {
        CodeMap grown;
        if (!code_map_init(&grown, m->mask + 1)) {
            code_map_free(&grown);
            return 0;
        }
        for (Py_ssize_t i = 0; i <= m->mask; i++)
            if (m->keys[i] != 0) {
                Py_ssize_t to = code_slot(&grown, m->keys[i]);
                grown.keys[to] = m->keys[i];
                grown.values[to] = m->values[i];
            }
        grown.count = m->count;
        code_map_free(m);
        *m = grown;
        at = code_slot(m, c);
    }
    m->keys[at] = c;
    m->values[at] = (int32_t)m->count++;
    return 1;
}

/* The number of code point c: c itself below 128, else 128 + its number in the map; -1 when
 * the map does not hold it. */
static inline int32_t code_rank(const CodeMap *m, uint32_t c) {
    if (c < 128)
        return (int32_t)c;
    Py_ssize_t at = code_slot(m, c);
    return m->keys[at] == c ? 128 + m->values[at] : -1;
}

static int compare_codes(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The code points of a text: a str (any of CPython's three widths: read where it lies, not copied
 * out as UTF-32) or a buffer of uint32. */
typedef struct {
    const void *data;
    int width;  /* bytes a code point: 1, 2 or 4 */
    Py_ssize_t n;
    Py_buffer view;
    int viewed;
} CodePoints;

static int code_points_of(PyObject *o, CodePoints *t) {
    t->viewed = 0;
    if (PyUnicode_Check(o)) {
        if (PyUnicode_READY(o) < 0)  /* (a no-op on every str made since Python 3.3's API) */
            return -1;
        t->data = PyUnicode_DATA(o);
        t->width = PyUnicode_KIND(o);
        t->n = PyUnicode_GET_LENGTH(o);
        return 0;
    }
    if (get(o, &t->view, 4, 0, "source") < 0)
        return -1;
    t->data = t->view.buf;
    t->width = 4;
    t->n = t->view.len / 4;
    t->viewed = 1;
    return 0;
}

static void code_points_release(CodePoints *t) {
    if (t->viewed)
        PyBuffer_Release(&t->view);
}

static ALWAYS_INLINE uint32_t code_at(const void *data, int width, Py_ssize_t i) {
    return width == 1 ? ((const uint8_t *)data)[i] : width == 2 ? ((const uint16_t *)data)[i] : ((const uint32_t *)data)[i];
}

#ifdef WIDE_CLASSES
/* Code points i..i+7 of a text as two vectors of four uint32. */
static ALWAYS_INLINE void code_points8(const void *data, int width, Py_ssize_t i, __m128i *lo, __m128i *hi) {
    __m128i zero = _mm_setzero_si128();
    if (width == 4) {
        *lo = _mm_loadu_si128((const __m128i *)((const uint32_t *)data + i));
        *hi = _mm_loadu_si128((const __m128i *)((const uint32_t *)data + i + 4));
    }
    else {
        __m128i v = width == 2 ? _mm_loadu_si128((const __m128i *)((const uint16_t *)data + i))
                               : _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)((const uint8_t *)data + i)), zero);
        *lo = _mm_unpacklo_epi16(v, zero);
        *hi = _mm_unpackhi_epi16(v, zero);
    }
}

/* Whether code points i..i+7 (i + 8 <= n) are all ASCII. */
static ALWAYS_INLINE int ascii8(const void *data, int width, Py_ssize_t i) {
    __m128i lo, hi;
    code_points8(data, width, i, &lo, &hi);
    return _mm_movemask_epi8(_mm_cmpgt_epi32(_mm_or_si128(lo, hi), _mm_set1_epi32(127))) == 0;
}
#else
static ALWAYS_INLINE int ascii8(const void *data, int width, Py_ssize_t i) {
    uint32_t any = 0;
    for (int k = 0; k < 8; k++)
        any |= code_at(data, width, i + k);
    return any < 128;
}
#endif

static ALWAYS_INLINE int wide_pass(const void *data, int width, Py_ssize_t n, CodeMap *map) {
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i + 8 <= n && ascii8(data, width, i)) {
            i += 7;
            continue;
        }
        uint32_t c = code_at(data, width, i);
        if (c >= 128 && !code_map_add(map, c))
            return 0;
    }
    return 1;
}

/* normalise._code_ranks' look-up list: the distinct code points of 128 or more of a text (a str,
 * or a buffer of uint32), ascending, as bytes of uint32 (one pass and a sort of the few, not a
 * sort of the text or a table of every code point). */
static PyObject *wide_codes(PyObject *self, PyObject *args) {
    PyObject *o_source;
    if (!PyArg_ParseTuple(args, "O", &o_source))
        return NULL;
    CodePoints text;
    if (code_points_of(o_source, &text) < 0)
        return NULL;
    CodeMap map;
    int failed = !code_map_init(&map, 0);
    uint32_t *codes = NULL;
    Py_BEGIN_ALLOW_THREADS
    if (!failed)
        failed = !(text.width == 1 ? wide_pass(text.data, 1, text.n, &map)
                   : text.width == 2 ? wide_pass(text.data, 2, text.n, &map) : wide_pass(text.data, 4, text.n, &map));
    if (!failed) {
        codes = PyMem_RawMalloc((size_t)(map.count ? map.count : 1) * sizeof(uint32_t));
        failed = codes == NULL;
    }
    if (!failed) {
        for (Py_ssize_t i = 0, k = 0; i <= map.mask; i++)
            if (map.keys[i] != 0)
                codes[k++] = map.keys[i];
        qsort(codes, (size_t)map.count, sizeof(uint32_t), compare_codes);
    }
    Py_END_ALLOW_THREADS
    code_points_release(&text);
    PyObject *result = failed ? PyErr_NoMemory() : PyBytes_FromStringAndSize((const char *)codes, map.count * 4);
    code_map_free(&map);
    PyMem_RawFree(codes);
    return result;
}

#ifdef WIDE_CLASSES
/* Eight ASCII code points (`lo`, `hi`: four uint32 each) lower-cased into norm, their classes (1 a
 * letter, 2 a digit) into kind and whether each is a capital into upper: `ascii_lower` for code
 * points. Nonzero when one of them is "[" or "-" (`normalise_chars` lists those). */
static inline int ascii_chars8(__m128i lo, __m128i hi, uint32_t *norm, uint8_t *kind, uint8_t *upper) {
    __m128i k[2], u[2], v[2] = {lo, hi};
    int marks = 0;
    for (int h = 0; h < 2; h++) {
        marks |= _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi32(v[h], _mm_set1_epi32('[')),
                                                _mm_cmpeq_epi32(v[h], _mm_set1_epi32('-'))));
        __m128i cap = _mm_and_si128(_mm_cmpgt_epi32(v[h], _mm_set1_epi32('A' - 1)), _mm_cmplt_epi32(v[h], _mm_set1_epi32('Z' + 1)));
        __m128i low = _mm_and_si128(_mm_cmpgt_epi32(v[h], _mm_set1_epi32('a' - 1)), _mm_cmplt_epi32(v[h], _mm_set1_epi32('z' + 1)));
        __m128i dig = _mm_and_si128(_mm_cmpgt_epi32(v[h], _mm_set1_epi32('0' - 1)), _mm_cmplt_epi32(v[h], _mm_set1_epi32('9' + 1)));
        _mm_storeu_si128((__m128i *)(norm + 4 * h), _mm_add_epi32(v[h], _mm_and_si128(cap, _mm_set1_epi32(32))));
        k[h] = _mm_or_si128(_mm_and_si128(_mm_or_si128(cap, low), _mm_set1_epi32(1)), _mm_and_si128(dig, _mm_set1_epi32(2)));
        u[h] = _mm_and_si128(cap, _mm_set1_epi32(1));
    }
    __m128i k16 = _mm_packs_epi32(k[0], k[1]), u16 = _mm_packs_epi32(u[0], u[1]);
    _mm_storel_epi64((__m128i *)kind, _mm_packus_epi16(k16, k16));
    _mm_storel_epi64((__m128i *)upper, _mm_packus_epi16(u16, u16));
    return marks;
}
#endif

/* `camel_cuts` of a run of `length` characters (1..64) at rs from its bits (bit i: its character i):
 * capitals `cap`, small letters `small`. The humps are cap & small << 1, the falls the capitals
 * after a capital and before two small letters (at most `length` - 3 on); a run of 64 characters
 * or fewer (nearly all) is read from a few masks, not a character at a time. 0 when out of memory. */
static int camel_cuts64(Py_ssize_t rs, Py_ssize_t length, uint64_t cap, uint64_t small, int64_t **glued,
                        Py_ssize_t *nglued, Py_ssize_t *cap_glued, int64_t **halves, Py_ssize_t *nhalves,
                        Py_ssize_t *cap_halves) {
    uint64_t keep = length >= 64 ? ~0ULL : (1ULL << length) - 1;
    cap &= keep;
    small &= keep;
    uint64_t cuts = cap & (small << 1);
    if (length >= 3)
        cuts |= (cap << 1) & cap & (small >> 1) & (small >> 2) & ((1ULL << (length - 2)) - 1);
    Py_ssize_t segments = bits_set(cuts) + 1;
    if (segments < 2 || length < (segments == 2 ? HALF_CHARS : 3 * segments))
        return 1;
    if (segments == 2)
        return push(halves, nhalves, cap_halves, rs + __builtin_ctzll(cuts));
    for (; cuts; cuts &= cuts - 1)
        if (!push(glued, nglued, cap_glued, rs + __builtin_ctzll(cuts)))
            return 0;
    return 1;
}

/* Bits of the 64 classes at k (bit i: k[i]) that are 1 (`letter`) and 2 (`digit`). */
static inline void kind_bits64(const uint8_t *k, uint64_t *letter, uint64_t *digit) {
#ifdef WIDE_CLASSES
    *letter = *digit = 0;
    for (int q = 0; q < 4; q++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(k + 16 * q));
        *letter |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(1))) << (16 * q);
        *digit |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(2))) << (16 * q);
    }
#else
    *letter = *digit = 0;
    for (int i = 0; i < 64; i++) {
        *letter |= (uint64_t)(k[i] == 1) << i;
        *digit |= (uint64_t)(k[i] == 2) << i;
    }
#endif
}

/* normalise._first_cuts' runs and cuts, for a layout's classes (`kind`: 1 a letter, 2 a digit, 0
 * anything else, uint8): where runs of letters and digits start and end, and the cuts inside them
 * where a letter meets a digit, as bytes of int64 (three arrays). */
static PyObject *kind_runs(PyObject *self, PyObject *args) {
    Py_buffer kind;
    if (!PyArg_ParseTuple(args, "y*", &kind))
        return NULL;
    const uint8_t *k = kind.buf;
    Py_ssize_t n = kind.len, ns = 0, ne = 0, nc = 0, cap_s = 64, cap_e = 64, cap_c = 64;
    int64_t *s = PyMem_RawMalloc(cap_s * sizeof(int64_t)), *e = PyMem_RawMalloc(cap_e * sizeof(int64_t));
    int64_t *cuts = PyMem_RawMalloc(cap_c * sizeof(int64_t));
    int failed = s == NULL || e == NULL || cuts == NULL;
    Py_BEGIN_ALLOW_THREADS
    uint64_t letter_carry = 0, digit_carry = 0;  /* the last class of the block before */
    uint8_t pad[64];
    for (Py_ssize_t at = 0; at < n && !failed; at += 64) {  /* 64 classes a step, as bits */
        const uint8_t *b = k + at;
        if (at + 64 > n) {
            memset(pad, 0, 64);
            memcpy(pad, b, (size_t)(n - at));
            b = pad;
        }
        uint64_t letter, digit;
        kind_bits64(b, &letter, &digit);
        uint64_t word = letter | digit, letter_before = (letter << 1) | letter_carry;
        uint64_t digit_before = (digit << 1) | digit_carry, word_before = letter_before | digit_before;
        uint64_t starts = word & ~word_before, ends = word_before & ~word;
        uint64_t between = (letter & digit_before) | (digit & letter_before);
        for (; starts && !failed; starts &= starts - 1)
            failed = !push(&s, &ns, &cap_s, at + __builtin_ctzll(starts));
        for (; ends && !failed; ends &= ends - 1)
            failed = !push(&e, &ne, &cap_e, at + __builtin_ctzll(ends));
        for (; between && !failed; between &= between - 1)
            failed = !push(&cuts, &nc, &cap_c, at + __builtin_ctzll(between));
        letter_carry = letter >> 63;
        digit_carry = digit >> 63;
    }
    if (!failed && ne < ns)  /* a run that goes on to the end (past it, the padding has no class) */
        failed = !push(&e, &ne, &cap_e, n);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&kind);
    PyObject *result = failed ? PyErr_NoMemory()
        : Py_BuildValue("(y#y#y#)", (const char *)s, ns * 8, (const char *)e, ne * 8, (const char *)cuts, nc * 8);
    PyMem_RawFree(s);
    PyMem_RawFree(e);
    PyMem_RawFree(cuts);
    return result;
}

/* Where a normalised character c at `at` is "[" (appended to brackets) or a hyphen: "-", U+2010 or a
 * soft hyphen (to dashes); the citation marks and broken words of text beyond ASCII are looked
 * for at those only. 0 when out of memory. */
static inline int list_mark(uint32_t c, Py_ssize_t at, int64_t **brackets, Py_ssize_t *nb, Py_ssize_t *cap_b,
                            int64_t **dashes, Py_ssize_t *nd, Py_ssize_t *cap_d) {
    if (c == '[')
        return push(brackets, nb, cap_b, at);
    if (c == '-' || c == 0x2010 || c == 0xAD)
        return push(dashes, nd, cap_d, at);
    return 1;
}

/* encoded._char_offsets: the character offset of each byte offset of the UTF-8 text `data` (each at
 * a character's start; ascending, int64), as bytes of int64: the bytes before it that are not a
 * continuation byte (10xxxxxx), counted eight at a time. */
static PyObject *utf8_offsets(PyObject *self, PyObject *args) {
    Py_buffer data, offsets;
    if (!PyArg_ParseTuple(args, "y*y*", &data, &offsets))
        return NULL;
    const uint8_t *p = data.buf;
    const int64_t *x = offsets.buf;
    Py_ssize_t n = data.len, m = offsets.len / 8;
    int ok = offsets.len % 8 == 0;
    for (Py_ssize_t k = 0; ok && k < m; k++)
        ok = x[k] >= 0 && x[k] <= n && (k == 0 || x[k - 1] <= x[k]);
    int64_t *out = ok ? PyMem_RawMalloc((size_t)(m ? m : 1) * sizeof(int64_t)) : NULL;
    if (ok && out != NULL) {
        Py_BEGIN_ALLOW_THREADS
        Py_ssize_t at = 0, continuation = 0;
        for (Py_ssize_t k = 0; k < m; k++) {
            for (; at + 8 <= x[k]; at += 8) {
                uint64_t w;
                memcpy(&w, p + at, 8);
                uint64_t marked = w & ~(w << 1) & 0x8080808080808080ULL;  /* bit 7 set, bit 6 clear */
                continuation += (Py_ssize_t)(((marked >> 7) * 0x0101010101010101ULL) >> 56);
            }
            for (; at < x[k]; at++)
                continuation += (p[at] & 0xC0) == 0x80;
            out[k] = x[k] - continuation;
        }
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&offsets);
    PyObject *result = listed(ok && out == NULL, ok, "offsets: ascending, within the data", out, m, NULL, 0);
    PyMem_RawFree(out);
    return result;
}

/* normalise._camel_cuts for a layout's classes (`kind`: 1 a letter) and capitals (`upper`: 1, else 0),
 * with its runs of letters and digits (`starts`, `ends`: ascending, apart): in each run that holds a
 * hump (a capital after a small letter), the humps and the falls (the last of two capitals or more
 * before two small letters), cut when they make three words or more that average three characters
 * or more (the first list), or kept as a half cut when they make exactly two (the second), as bytes
 * of int64. The humps are found 64 characters at a time; only the runs that hold one are read. */
static PyObject *camel_cuts_of(PyObject *self, PyObject *args) {
    PyObject *o_kind, *o_upper, *o_starts, *o_ends;
    if (!PyArg_ParseTuple(args, "OOOO", &o_kind, &o_upper, &o_starts, &o_ends))
        return NULL;
    Py_buffer kind, upper, starts, ends;
    Want want[] = {{o_kind, &kind, 1, 0, "kind"}, {o_upper, &upper, 1, 0, "upper"}, {o_starts, &starts, 8, 0, "starts"},
                   {o_ends, &ends, 8, 0, "ends"}};
    if (get_all(want, 4) < 0)
        return NULL;
    const uint8_t *k = kind.buf, *u = upper.buf;
    const int64_t *s = starts.buf, *e = ends.buf;
    Py_ssize_t n = kind.len, m = starts.len / 8;
    int ok = upper.len == n && ends.len / 8 == m;
    for (Py_ssize_t t = 0; ok && t < m; t++)
        ok = s[t] >= 0 && s[t] < e[t] && e[t] <= n && (t == 0 || e[t - 1] <= s[t]);
    Py_ssize_t ng = 0, nh = 0, cap_g = 64, cap_h = 64, nw = 0, cap_w = 64;
    int64_t *glued = PyMem_RawMalloc(cap_g * sizeof(int64_t)), *halves = PyMem_RawMalloc(cap_h * sizeof(int64_t));
    int64_t *words = PyMem_RawMalloc(cap_w * sizeof(int64_t));  /* the cuts of the run being read */
    int failed = glued == NULL || halves == NULL || words == NULL;
#define SMALL(i) (k[i] == 1 && !u[i])
    if (ok && !failed) {
        Py_BEGIN_ALLOW_THREADS
        Py_ssize_t t = 0, read_to = 0;  /* the run cursor; where the runs read so far end */
        Py_ssize_t tf = 0, fall_read = 0;  /* the same for the falls of runs without a hump */
        uint64_t small_carry = 0, cap_carry = 0;
        uint8_t pad_k[64], pad_u[64];
        for (Py_ssize_t at = 0; at < n && !failed; at += 64) {
            const uint8_t *bk = k + at, *bu = u + at;
            if (at + 64 > n) {
                memset(pad_k, 0, 64);
                memset(pad_u, 0, 64);
                memcpy(pad_k, bk, (size_t)(n - at));
                memcpy(pad_u, bu, (size_t)(n - at));
                bk = pad_k;
                bu = pad_u;
            }
            uint64_t letter, digit, capital, zero;
            kind_bits64(bk, &letter, &digit);
            kind_bits64(bu, &capital, &zero);  /* (upper is 0 or 1: its 1s) */
            uint64_t small = letter & ~capital;
            uint64_t humps = capital & ((small << 1) | small_carry);
            small_carry = small >> 63;
            for (; humps && !failed; humps &= humps - 1) {
                Py_ssize_t h = at + __builtin_ctzll(humps);
                if (h < read_to)
                    continue;
                while (t < m && e[t] <= h)
                    t++;
                if (t >= m || s[t] > h)  /* (a capital outside a run of letters and digits) */
                    continue;
                Py_ssize_t rs = s[t], re = e[t];
                read_to = re;
                if (re - rs <= 64) {  /* (nearly all: read from the masks of its 64 characters) */
                    uint8_t run_k[64], run_u[64];
                    const uint8_t *rk = k + rs, *ru = u + rs;
                    if (rs + 64 > n) {
                        memset(run_k, 0, 64);
                        memset(run_u, 0, 64);
                        memcpy(run_k, rk, (size_t)(n - rs));
                        memcpy(run_u, ru, (size_t)(n - rs));
                        rk = run_k;
                        ru = run_u;
                    }
                    uint64_t run_letter, run_digit, run_cap, run_zero;
                    kind_bits64(rk, &run_letter, &run_digit);
                    kind_bits64(ru, &run_cap, &run_zero);
                    failed = !camel_cuts64(rs, re - rs, run_cap, run_letter & ~run_cap, &glued, &ng, &cap_g, &halves, &nh,
                                           &cap_h);
                    continue;
                }
                nw = 0;
                for (Py_ssize_t i = rs + 1; i < re && !failed; i++) {  /* humps and falls, in order */
                    if (u[i] && SMALL(i - 1))
                        failed = !push(&words, &nw, &cap_w, i);
                    else if (i + 2 < re && u[i - 1] && u[i] && SMALL(i + 1) && SMALL(i + 2))
                        failed = !push(&words, &nw, &cap_w, i);
                }
                Py_ssize_t segments = nw + 1;
                if (failed || segments < 2 || re - rs < (segments == 2 ? HALF_CHARS : 3 * segments))
                    continue;
                for (Py_ssize_t q = 0; q < nw && !failed; q++)
                    failed = segments == 2 ? !push(&halves, &nh, &cap_h, words[q]) : !push(&glued, &ng, &cap_g, words[q]);
            }
            /* the falls of runs without a hump (USTrade): two words, a half cut (normalise._lone_falls) */
            uint64_t falls = capital & ((capital << 1) | cap_carry);  /* (a capital after a capital: few blocks) */
            cap_carry = capital >> 63;
            if (falls) {
                uint64_t next_small = 0, next_cap = 0;
                for (int q = 0; q < 2; q++)
                    if (at + 64 + q < n) {
                        next_small |= (uint64_t)SMALL(at + 64 + q) << q;
                        next_cap |= (uint64_t)(u[at + 64 + q] != 0) << q;
                    }
                falls &= ((small >> 1) | (next_small << 63)) & ~((capital >> 2) | (next_cap << 62));
            }
            for (; falls && !failed; falls &= falls - 1) {
                Py_ssize_t f = at + __builtin_ctzll(falls);
                if (f < fall_read)
                    continue;
                for (Py_ssize_t hi = m; tf < hi;) {  /* the first run that ends past it (a search: falls are rare) */
                    Py_ssize_t mid = tf + (hi - tf) / 2;
                    if (e[mid] <= f)
                        tf = mid + 1;
                    else
                        hi = mid;
                }
                if (tf >= m || s[tf] > f)
                    continue;
                Py_ssize_t rs = s[tf], re = e[tf];
                fall_read = re;
                int lone = re - rs >= HALF_CHARS;
                for (Py_ssize_t i = rs + 1; i < re && lone; i++)
                    lone = !(u[i] && SMALL(i - 1))
                        && !(i != f && i + 1 < re && u[i - 1] && u[i] && SMALL(i + 1) && (i + 2 == re || !u[i + 2]));
                if (lone)
                    failed = !push_half(&halves, &nh, &cap_h, f);
            }
        }
        Py_END_ALLOW_THREADS
    }
#undef SMALL
    release_all(want, 4);
    PyObject *result = NULL;
    if (!ok)
        PyErr_SetString(PyExc_ValueError, "runs do not fit the classes or each other");
    else if (failed)
        PyErr_NoMemory();
    else
        result = Py_BuildValue("(y#y#)", (const char *)glued, ng * 8, (const char *)halves, nh * 8);
    PyMem_RawFree(glued);
    PyMem_RawFree(halves);
    PyMem_RawFree(words);
    return result;
}

/* normalise._unified_hashes before the BLAKE2b of long tokens, for text of code points (uint32):
 * each token norm[start:end] of ASCII characters hashed as `ascii_hashes` hashes its bytes, each
 * token with a code point of 128 or more as fmix64(sum of c_j * P^j + length) ^ WIDE (j from 0
 * at its start, modulo 2^64: normalise._token_hashes), into `out`; wide[i] set to 1 for the
 * latter, 0 for the others (bytes). */
static PyObject *code_point_hashes(PyObject *self, PyObject *args) {
    PyObject *o_norm, *o_starts, *o_ends, *o_out, *o_wide;
    unsigned long long base, mark;
    if (!PyArg_ParseTuple(args, "OOOOOKK", &o_norm, &o_starts, &o_ends, &o_out, &o_wide, &base, &mark))
        return NULL;
    Py_buffer norm, starts, ends, out, wide;
    Want want[] = {{o_norm, &norm, 4, 0, "norm"}, {o_starts, &starts, 8, 0, "starts"}, {o_ends, &ends, 8, 0, "ends"},
                   {o_out, &out, 8, 1, "out"}, {o_wide, &wide, 1, 1, "wide"}};
    if (get_all(want, 5) < 0)
        return NULL;
    Py_ssize_t m = starts.len / 8, n = norm.len / 4;
    int ok = ends.len / 8 == m && out.len / 8 == m && wide.len == m;
    if (ok) {
        const uint32_t *p = norm.buf;
        const int64_t *s = starts.buf, *e = ends.buf;
        uint64_t *h = out.buf;
        uint8_t *w = wide.buf;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < m; i++) {
            Py_ssize_t at = s[i], length = e[i] - s[i];
            if (at < 0 || length < 0 || at + length > n) {
                ok = 0;
                break;
            }
            uint32_t any = 0;
            uint64_t v = 0;  /* (the first eight characters as bytes, read as they are checked) */
            Py_ssize_t j = 0;
#ifdef WIDE_CLASSES
            if (at + 8 <= n) {  /* (most: eight code points packed into eight bytes at once, each of 256 or
                                 * more as 255: beyond ASCII either way) */
                __m128i lo = _mm_loadu_si128((const __m128i *)(p + at)), hi = _mm_loadu_si128((const __m128i *)(p + at + 4));
                __m128i words = _mm_packs_epi32(lo, hi);  /* (signed: code points up to 0x10FFFF stay positive) */
                uint64_t packed;
                _mm_storel_epi64((__m128i *)&packed, _mm_packus_epi16(words, words));
                j = length < 8 ? length : 8;
                v = packed & low_bytes(j);
                any = (v & 0x8080808080808080ULL) ? 128 : 0;
            }
#endif
            for (; j < 8 && j < length; j++) {
                any |= p[at + j];
                v |= (uint64_t)(p[at + j] & 0xFF) << (8 * j);
            }
            for (; j < length; j++)
                any |= p[at + j];
            w[i] = any >= 128;
            if (any >= 128) {
                uint64_t sum = 0, power = 1;
                for (j = 0; j < length; j++, power *= base)
                    sum += (uint64_t)p[at + j] * power;
                h[i] = fmix64(sum + (uint64_t)length) ^ mark;
                continue;
            }
            v ^= (uint64_t)length << 56;
            for (Py_ssize_t off = 8; off < 64 && off < length; off += 8) {
                uint64_t next = 0;
                for (Py_ssize_t k = 0; k < 8 && off + k < length; k++)
                    next |= (uint64_t)p[at + off + k] << (8 * k);
                v = fmix64(v) ^ next;
            }
            h[i] = fmix64(v);
        }
        Py_END_ALLOW_THREADS
    }
    return done(want, 5, ok, "token bounds do not fit the text or each other");
}

/* What `normalise_chars` counts in its first pass and lists in its second. */
typedef struct {
    Py_ssize_t total, nhidden, nsup, nb, nd, cap_b, cap_d;
    int multi, any_single, plain;
    int64_t *brackets, *dashes;
} Normalised;

/* The table's arrays (see `normalise_chars`). */
typedef struct {
    const uint32_t *flat;
    const int64_t *starts, *lengths;
    const uint8_t *flags, *kinds;
} CharTable;

/* `normalise_chars`' first pass: every character's code found (0 when one is not in the map) and
 * the output counted. Eight ASCII characters in a row are counted at once. */
static ALWAYS_INLINE int normalise_count(const void *data, int width, Py_ssize_t n, const CodeMap *map,
                                         const CharTable *t, Normalised *o) {
    for (Py_ssize_t i = 0; i < n; i++) {
        if (o->plain && i + 8 <= n && ascii8(data, width, i)) {
            o->total += 8;
            i += 7;
            continue;
        }
        int32_t r = code_rank(map, code_at(data, width, i));
        if (r < 0)
            return 0;
        o->total += t->lengths[r];
        o->multi |= t->lengths[r] != 1;
        o->nhidden += (t->flags[r] & 2) != 0;
        o->nsup += (t->flags[r] & 4) != 0;
    }
    return 1;
}

/* `normalise_chars`' second pass: the arrays written (0 when out of memory). */
static ALWAYS_INLINE int normalise_write(const void *data, int width, Py_ssize_t n, const CodeMap *map,
                                         const CharTable *t, Normalised *o, uint32_t *norm, uint8_t *kind,
                                         uint8_t *upper, uint8_t *singles, int64_t *source_of, int64_t *hidden,
                                         int64_t *sup) {
    Py_ssize_t out = 0, h = 0, s = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
#ifdef WIDE_CLASSES
        /* (most text: eight ASCII characters written at once; else each through its table row) */
        if (o->plain && i + 8 <= n && ascii8(data, width, i)) {
            __m128i lo, hi;
            code_points8(data, width, i, &lo, &hi);
            if (ascii_chars8(lo, hi, norm + out, kind + out, upper + out))
                for (int q = 0; q < 8; q++)
                    if (!list_mark(norm[out + q], out + q, &o->brackets, &o->nb, &o->cap_b, &o->dashes, &o->nd,
                                   &o->cap_d))
                        return 0;
            if (o->any_single)
                memset(singles + out, 0, 8);
            for (int q = 0; q < 8 && o->multi; q++)  /* (an ellipsis or a ligature in the text: offsets kept) */
                source_of[out + q] = i + q;
            out += 8;
            i += 7;
            continue;
        }
#endif
        int32_t r = code_rank(map, code_at(data, width, i));
        uint8_t f = t->flags[r];
        if (f & 2)
            hidden[h++] = i;
        if (f & 4)
            sup[s++] = out;  /* (a superscript digit makes one character) */
        for (Py_ssize_t j = t->starts[r], end = t->starts[r] + t->lengths[r]; j < end; j++, out++) {
            uint32_t ch = t->flat[j];
            norm[out] = ch;
            kind[out] = t->kinds[j] == 1 ? (ch - 48u < 10u ? 2 : 1) : 0;
            upper[out] = f & 1;
            if (o->any_single)
                singles[out] = t->kinds[j] == 2;
            if (o->multi)
                source_of[out] = i;
            if (!list_mark(ch, out, &o->brackets, &o->nb, &o->cap_b, &o->dashes, &o->nd, &o->cap_d))
                return 0;
        }
    }
    return 1;
}

/* normalise._normalise after the character table: each character of the text `source` (a str, or
 * a buffer of uint32) replaced by what the table makes of it. The table is given per code point,
 * for the code points 0..127 and then `wide` (the text's others, ascending: `wide_codes`): where
 * each one's characters start in `flat` (uint32) and `flat_kind` (uint8: 1 a word character, 2 a
 * token of its own), how many there are (both int64), and its flags (uint8: 1 upper case, 2
 * hides, 4 a superscript digit). Returns (norm: uint32; kind: uint8, 1 a letter, 2 a digit 0-9, 0
 * anything else, of the word characters; upper: 0 or 1; source_of: int64, the source offset of
 * each character, or None where every source character makes one; singles: 0 or 1, or None where
 * none is; hidden: int64 source offsets of the characters that hide; superscripts: int64 offsets
 * in norm, or None where none is), each a bytearray (the caller's to change); and, as bytes of
 * int64, where norm holds "[" and where it holds a hyphen (`list_mark`). Two passes: the first
 * counts, so each array but those two lists is allocated once. */
static PyObject *normalise_chars(PyObject *self, PyObject *args) {
    PyObject *o_source, *o_wide, *o_starts, *o_lengths, *o_flags, *o_flat, *o_flat_kind;
    if (!PyArg_ParseTuple(args, "OOOOOOO", &o_source, &o_wide, &o_starts, &o_lengths, &o_flags, &o_flat, &o_flat_kind))
        return NULL;
    CodePoints text;
    if (code_points_of(o_source, &text) < 0)
        return NULL;
    Py_buffer wide, starts, lengths, flags, flat, flat_kind;
    Want want[] = {{o_wide, &wide, 4, 0, "wide"}, {o_starts, &starts, 8, 0, "starts"}, {o_lengths, &lengths, 8, 0, "lengths"},
                   {o_flags, &flags, 1, 0, "flags"}, {o_flat, &flat, 4, 0, "flat"}, {o_flat_kind, &flat_kind, 1, 0, "flat_kind"}};
    if (get_all(want, 6) < 0) {
        code_points_release(&text);
        return NULL;
    }
    const uint32_t *w = wide.buf;
    CharTable t = {flat.buf, starts.buf, lengths.buf, flags.buf, flat_kind.buf};
    Py_ssize_t n = text.n, nw = wide.len / 4, codes = 128 + nw, nflat = flat.len / 4;
    int ok = starts.len / 8 == codes && lengths.len / 8 == codes && flags.len == codes && flat_kind.len == nflat
             && (nw == 0 || w[0] >= 128);
    for (Py_ssize_t r = 0; ok && r < codes; r++)
        ok = t.starts[r] >= 0 && t.lengths[r] >= 0 && t.starts[r] + t.lengths[r] <= nflat;
    for (Py_ssize_t k = 1; ok && k < nw; k++)
        ok = w[k - 1] < w[k];
    CodeMap map = {NULL, NULL, 0, 0};
    Normalised o = {0, 0, 0, 0, 0, 64, 64, 0, 0, 0, NULL, NULL};
    int failed = 0;
    if (ok) {
        o.brackets = PyMem_RawMalloc(o.cap_b * sizeof(int64_t));
        o.dashes = PyMem_RawMalloc(o.cap_d * sizeof(int64_t));
        failed = !code_map_init(&map, nw) || o.brackets == NULL || o.dashes == NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; ok && !failed && k < nw; k++)  /* numbered in order: the k-th is code 128 + k */
        failed = !code_map_add(&map, w[k]);
    for (Py_ssize_t r = 0; ok && !failed && r < codes; r++)
        for (Py_ssize_t j = t.starts[r]; j < t.starts[r] + t.lengths[r]; j++)
            o.any_single |= t.kinds[j] == 2;
    /* where the table's rows of 0..127 are ASCII's own (lower case, one character each, letters
     * and digits words; so they are unless the table changed), eight ASCII characters in a row
     * are counted and written at once, without looking their rows up */
    o.plain = ok;
    for (Py_ssize_t r = 0; r < 128 && ok; r++) {
        uint32_t lower = (uint32_t)r + ((uint32_t)(r - 'A') < 26u ? 32u : 0u);
        int word = (uint32_t)((r | 32) - 'a') < 26u || (uint32_t)(r - '0') < 10u;
        o.plain &= t.lengths[r] == 1 && t.flat[t.starts[r]] == lower && t.kinds[t.starts[r]] == word
                   && t.flags[r] == ((uint32_t)(r - 'A') < 26u);
    }
    if (ok && !failed)  /* (a code point `wide` does not hold: not ok) */
        ok = text.width == 1 ? normalise_count(text.data, 1, n, &map, &t, &o)
             : text.width == 2 ? normalise_count(text.data, 2, n, &map, &t, &o) : normalise_count(text.data, 4, n, &map, &t, &o);
    Py_END_ALLOW_THREADS
    PyObject *o_norm = NULL, *o_kind = NULL, *o_upper = NULL, *o_source_of = NULL, *o_singles = NULL;
    PyObject *o_hidden = NULL, *o_sup = NULL, *result = NULL;
    if (ok && !failed) {
        o_norm = PyByteArray_FromStringAndSize(NULL, o.total * 4);
        o_kind = PyByteArray_FromStringAndSize(NULL, o.total);
        o_upper = PyByteArray_FromStringAndSize(NULL, o.total);
        o_singles = PyByteArray_FromStringAndSize(NULL, o.any_single ? o.total : 0);
        o_source_of = PyByteArray_FromStringAndSize(NULL, o.multi ? o.total * 8 : 0);
        o_hidden = PyByteArray_FromStringAndSize(NULL, o.nhidden * 8);
        o_sup = PyByteArray_FromStringAndSize(NULL, o.nsup * 8);
    }
    if (ok && !failed && o_norm && o_kind && o_upper && o_singles && o_source_of && o_hidden && o_sup) {
        uint32_t *norm = (uint32_t *)PyByteArray_AS_STRING(o_norm);
        uint8_t *kind = (uint8_t *)PyByteArray_AS_STRING(o_kind), *upper = (uint8_t *)PyByteArray_AS_STRING(o_upper);
        uint8_t *singles = (uint8_t *)PyByteArray_AS_STRING(o_singles);
        int64_t *source_of = (int64_t *)PyByteArray_AS_STRING(o_source_of);
        int64_t *hidden = (int64_t *)PyByteArray_AS_STRING(o_hidden), *sup = (int64_t *)PyByteArray_AS_STRING(o_sup);
        Py_BEGIN_ALLOW_THREADS
        failed = !(text.width == 1 ? normalise_write(text.data, 1, n, &map, &t, &o, norm, kind, upper, singles, source_of,
                                                     hidden, sup)
                   : text.width == 2 ? normalise_write(text.data, 2, n, &map, &t, &o, norm, kind, upper, singles,
                                                       source_of, hidden, sup)
                   : normalise_write(text.data, 4, n, &map, &t, &o, norm, kind, upper, singles, source_of, hidden, sup));
        Py_END_ALLOW_THREADS
        if (!failed)
            result = Py_BuildValue("(OOOOOOOy#y#)", o_norm, o_kind, o_upper, o.multi ? o_source_of : Py_None,
                                   o.any_single ? o_singles : Py_None, o_hidden, o.nsup ? o_sup : Py_None,
                                   (const char *)o.brackets, o.nb * 8, (const char *)o.dashes, o.nd * 8);
        else
            PyErr_NoMemory();
    }
    else if (ok)
        PyErr_NoMemory();
    else
        PyErr_SetString(PyExc_ValueError, "the character table does not fit the code points");
    Py_XDECREF(o_norm);
    Py_XDECREF(o_kind);
    Py_XDECREF(o_upper);
    Py_XDECREF(o_source_of);
    Py_XDECREF(o_singles);
    Py_XDECREF(o_hidden);
    Py_XDECREF(o_sup);
    release_all(want, 6);
    code_points_release(&text);
    code_map_free(&map);
    PyMem_RawFree(o.brackets);
    PyMem_RawFree(o.dashes);
    return result;
}


/* normalise._words' first cuts, for ASCII text: where its tokens start and end (runs of
 * letters A-Z a-z, or of digits 0-9: a letter next to a digit is a cut), cut again where
 * glued CamelCase words begin (`camel_cuts` below: normalise._camel_cuts, which reads the
 * same text when the speedups are not built), the hyphens after a letter and before a
 * blank or a line break (those `_broken_words` reads), and the "[" before a digit or a blank
 * and a digit (where `_drop_citations` looks for citation marks). Returns (starts, ends) as
 * bytearrays of int64, and the half cuts (the CamelCase cut of each token of exactly two
 * words), the hyphens and the brackets as bytes of int64. Counted first, then written (where
 * SSE2 is at hand, 64 bytes at a time), so each array is allocated once, with room for the
 * CamelCase cuts. */
static inline int ascii_is_alnum(uint8_t c) { return (uint8_t)((c | 0x20) - 'a') < 26 || (uint8_t)(c - '0') < 10; }

#ifndef WIDE_CLASSES
static inline uint64_t equal64(const uint8_t *p, int c) {
    uint64_t m = 0;
    for (int i = 0; i < 64; i++)
        m |= (uint64_t)(p[i] == c) << i;
    return m;
}

static inline void ascii_kinds64(const uint8_t *p, uint64_t *upper, uint64_t *small, uint64_t *digit) {
    *upper = *small = *digit = 0;
    for (int i = 0; i < 64; i++) {
        *upper |= (uint64_t)((uint8_t)(p[i] - 'A') < 26) << i;
        *small |= (uint64_t)((uint8_t)(p[i] - 'a') < 26) << i;
        *digit |= (uint64_t)((uint8_t)(p[i] - '0') < 10) << i;
    }
}
#endif

/* Where a fall may be in the 64 bytes at p + at (bit i: p[at + i], p[at + i + 1] capitals, the two
 * bytes after small letters; the bytes past the text read as neither): the glued CamelCase cuts
 * of a text are at most its humps and these. */
static inline void ascii_next3(const uint8_t *p, Py_ssize_t n, Py_ssize_t at, uint64_t *next_upper,
                               uint64_t *next_small) {
    *next_upper = *next_small = 0;  /* bits 0..2: the three bytes after the block at p + at */
    for (int k = 0; k < 3; k++)
        if (at + 64 + k < n) {
            *next_upper |= (uint64_t)((uint8_t)(p[at + 64 + k] - 'A') < 26) << k;
            *next_small |= (uint64_t)((uint8_t)(p[at + 64 + k] - 'a') < 26) << k;
        }
}

static inline uint64_t ascii_falls64(const uint8_t *p, Py_ssize_t n, Py_ssize_t at, uint64_t upper, uint64_t small) {
    uint64_t next_upper, next_small;
    ascii_next3(p, n, at, &next_upper, &next_small);
    uint64_t u1 = (upper >> 1) | (next_upper << 63);
    uint64_t s2 = (small >> 2) | (next_small << 62);
    uint64_t s3 = (small >> 3) | (next_small << 61);
    return upper & u1 & s2 & s3;
}

/* Where a fall of a run without a hump may be in the 64 bytes at p + at (bit i: p[at + i],
 * p[at + i + 1] capitals, the byte after them a small letter and the next no capital: USTrade,
 * PIGMENTIs; the bytes past the text read as neither). */
static inline uint64_t ascii_lone_falls64(const uint8_t *p, Py_ssize_t n, Py_ssize_t at, uint64_t upper,
                                          uint64_t small) {
    uint64_t next_upper, next_small;
    ascii_next3(p, n, at, &next_upper, &next_small);
    uint64_t u1 = (upper >> 1) | (next_upper << 63);
    uint64_t s2 = (small >> 2) | (next_small << 62);
    uint64_t u3 = (upper >> 3) | (next_upper << 61);
    return upper & u1 & s2 & ~u3;
}

/* Bits of the 64 bytes at `at` (zeros past n, from `pad`): token starts, token ends (a run
 * that ends at byte i shows at bit i: the first byte after it), humps, capitals and small
 * letters; `carry` holds the last bit of the block before for letters, digits and small letters. */
static inline void ascii_cuts64(const uint8_t *p, Py_ssize_t n, Py_ssize_t at, uint8_t pad[64], uint64_t carry[3],
                                uint64_t *starts, uint64_t *ends, uint64_t *humps, uint64_t *capitals, uint64_t *smalls) {
    const uint8_t *b = p + at;
    if (at + 64 > n) {
        memset(pad, 0, 64);
        memcpy(pad, b, (size_t)(n - at));
        b = pad;
    }
    uint64_t upper, small, digit;
    ascii_kinds64(b, &upper, &small, &digit);
    uint64_t letter = upper | small;
    uint64_t letter_before = (letter << 1) | carry[0], digit_before = (digit << 1) | carry[1];
    uint64_t small_before = (small << 1) | carry[2];
    *starts = (letter & ~letter_before) | (digit & ~digit_before);
    *ends = (letter_before & ~letter) | (digit_before & ~digit);
    *humps = upper & small_before;
    *capitals = upper;
    *smalls = small;
    carry[0] = letter >> 63;
    carry[1] = digit >> 63;
    carry[2] = small >> 63;
}

static inline int ascii_upper(uint8_t c) { return (uint8_t)(c - 'A') < 26; }
static inline int ascii_small(uint8_t c) { return (uint8_t)(c - 'a') < 26; }

/* normalise._camel_cuts_in for ASCII text: of each run of letters and digits p[rs:re] that
 * holds humps h[0..nh) (a capital after a small letter, ascending), the falls too (the last of
 * two capitals or more before two small letters: the B of UnderABlanket); the run is cut at
 * all of them when it makes three words or more that average three letters or more (appended
 * to `glued`), and its one cut is a half cut when it makes exactly two such words. 0 when out
 * of memory. */
static inline int ascii_fall(const uint8_t *p, Py_ssize_t at) {
    return ascii_upper(p[at]) && ascii_upper(p[at + 1]) && ascii_small(p[at + 2]) && ascii_small(p[at + 3]);
}

static int camel_cuts(const uint8_t *p, Py_ssize_t rs, Py_ssize_t re, const int64_t *h, Py_ssize_t nh,
                      int64_t **glued, Py_ssize_t *nglued, Py_ssize_t *cap_glued,
                      int64_t **halves, Py_ssize_t *nhalves, Py_ssize_t *cap_halves) {
    Py_ssize_t falls = 0;
    for (Py_ssize_t at = rs; at + 3 < re; at++)
        falls += ascii_fall(p, at);
    Py_ssize_t segments = nh + falls + 1;  /* (nh is 1 or more) */
    if (re - rs < (segments == 2 ? HALF_CHARS : 3 * segments))
        return 1;
    if (segments == 2)  /* one hump, no fall */
        return push(halves, nhalves, cap_halves, h[0]);
    /* humps and falls in order (never at one place: a fall follows a capital, a hump a small letter) */
    Py_ssize_t k = 0;
    for (Py_ssize_t at = rs; at + 3 < re; at++) {
        if (!ascii_fall(p, at))
            continue;
        for (; k < nh && h[k] < at + 1; k++)
            if (!push(glued, nglued, cap_glued, h[k]))
                return 0;
        if (!push(glued, nglued, cap_glued, at + 1))
            return 0;
    }
    for (; k < nh; k++)
        if (!push(glued, nglued, cap_glued, h[k]))
            return 0;
    return 1;
}

/* normalise._lone_falls for ASCII text: the run of letters and digits around the fall at `cut` (two
 * capitals, the second before a small letter that no capital follows: the T of USTrade, IThink, the
 * I of PIGMENTIs), when it holds no hump and no other such fall (digits may stand between two:
 * ABcd12EFgh), is two words: a half cut when it has HALF_CHARS characters or more. `read_to` is set
 * to the end of the run (never read again). 0 when out of memory. */
static int lone_fall(const uint8_t *p, Py_ssize_t n, Py_ssize_t cut, Py_ssize_t *read_to, int64_t **halves,
                     Py_ssize_t *nhalves, Py_ssize_t *cap_halves) {
    Py_ssize_t rs = cut, re = cut;
    while (rs > 0 && ascii_is_alnum(p[rs - 1]))
        rs--;
    while (re < n && ascii_is_alnum(p[re]))
        re++;
    *read_to = re;
    if (re - rs < HALF_CHARS)
        return 1;
    for (Py_ssize_t i = rs + 1; i < re; i++) {
        if (ascii_upper(p[i]) && ascii_small(p[i - 1]))
            return 1;  /* (a hump: camel_cuts reads the run) */
        if (i != cut && i + 1 < re && ascii_upper(p[i - 1]) && ascii_upper(p[i]) && ascii_small(p[i + 1])
                && (i + 2 == re || !ascii_upper(p[i + 2])))
            return 1;
    }
    return push_half(halves, nhalves, cap_halves, cut);
}

/* x inserted into the sorted values[0..*n) (room for one more), after the values equal to it: a
 * CamelCase cut, put among the bounds as soon as those before it are written (it falls among the
 * last few: a merge of all the cuts at the end moved nearly every bound once). */
static inline void insert_near_end(int64_t *values, Py_ssize_t *n, int64_t x) {
    Py_ssize_t j = *n;
    while (j > 0 && values[j - 1] > x)
        j--;
    memmove(values + j + 1, values + j, (size_t)(*n - j) * 8);
    values[j] = x;
    (*n)++;
}

static PyObject *ascii_runs(PyObject *self, PyObject *args) {
    Py_buffer data;
    int camel = 1;  /* 0: no CamelCase cuts (benchmarks/bench_evasion_share.py measures what they cost) */
    Py_ssize_t long_at = 0;  /* > 0: the links and long tokens of links_and_long listed too, as the bounds are
                              * written (a pass of its own over the bounds of 40 MB of mail took 11 ms) */
    if (!PyArg_ParseTuple(args, "y*|pn", &data, &camel, &long_at))
        return NULL;
    const uint8_t *p = data.buf;
    Py_ssize_t n = data.len, tokens = 0;
    /* room for the glued cuts (humps and falls at most), so that the bounds are never grown (copied) for them */
    Py_ssize_t most_cuts = 0;
    uint8_t pad[64];
    uint64_t carry[3] = {0, 0, 0}, starts, ends, hump, upper, small;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t at = 0; at < n; at += 64) {
        ascii_cuts64(p, n, at, pad, carry, &starts, &ends, &hump, &upper, &small);
        tokens += __builtin_popcountll(starts);
        if (camel && hump)  /* (most blocks have neither humps nor two capitals in a row: no count) */
            most_cuts += __builtin_popcountll(hump);
        /* (falls counted apart: a run's falls need no hump beside them, "aXXaa0XXaa0XXaa" has one
         * hump and three falls) */
        if (camel && ((upper & (upper >> 1)) | (upper >> 63))) {
            uint64_t falls = ascii_falls64(p, n, at, upper, small);
            if (falls)
                most_cuts += __builtin_popcountll(falls);
        }
    }
    Py_END_ALLOW_THREADS
    PyObject *o_starts = PyByteArray_FromStringAndSize(NULL, (tokens + most_cuts) * 8);
    PyObject *o_ends = o_starts == NULL ? NULL : PyByteArray_FromStringAndSize(NULL, (tokens + most_cuts) * 8);
    if (o_ends == NULL) {
        Py_XDECREF(o_starts);
        PyBuffer_Release(&data);
        return NULL;
    }
    int64_t *s = (int64_t *)PyByteArray_AS_STRING(o_starts), *e = (int64_t *)PyByteArray_AS_STRING(o_ends);
    Py_ssize_t nd = 0, cap_dash = 64, nglued = 0, cap_glued = 64, nhalves = 0, cap_halves = 64, nh = 0, cap_h = 64;
    Py_ssize_t nb = 0, cap_b = 64;
    int64_t *brackets = PyMem_RawMalloc(cap_b * sizeof(int64_t));
    int64_t *dashes = PyMem_RawMalloc(cap_dash * sizeof(int64_t)), *glued = PyMem_RawMalloc(cap_glued * sizeof(int64_t));
    int64_t *halves = PyMem_RawMalloc(cap_halves * sizeof(int64_t)), *h = PyMem_RawMalloc(cap_h * sizeof(int64_t));
    Py_ssize_t nlinks = 0, cap_links = 64, nlongs = 0, cap_longs = 64;
    int64_t *links = PyMem_RawMalloc(cap_links * sizeof(int64_t));
    int64_t *longs = PyMem_RawMalloc(cap_longs * sizeof(int64_t));
    int failed = dashes == NULL || glued == NULL || halves == NULL || h == NULL || brackets == NULL || links == NULL
        || longs == NULL;
    /* A token is listed (link_or_long) once it and the next are final: before `chain`, the first
     * token of the run of touching tokens (letters, digits) the text has reached, as a CamelCase
     * cut falls inside such a run and the runs before it are cut already. `again`: a cut fell
     * before it after all (one in an earlier run of the same block does, as the test is coarse):
     * the bounds are then read once more at the end (a finer test, listing as the bounds come,
     * counted 2% more instructions for 40 MB of mail). */
    Py_ssize_t chain = 0, listed = 0;
    int again = 0;
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t ns = 0, ne = 0, run_start = 0, run_end = -1, placed = 0, room = tokens + most_cuts;
    Py_ssize_t fall_read = 0;  /* where the runs read for a fall without a hump end */
    carry[0] = carry[1] = carry[2] = 0;
    for (Py_ssize_t at = 0; at < n && !failed; at += 64) {
        ascii_cuts64(p, n, at, pad, carry, &starts, &ends, &hump, &upper, &small);
        /* a hyphen after a letter and before a blank or a line break (where _broken_words looks) */
        for (uint64_t dash = equal64(at + 64 <= n ? p + at : pad, '-'); dash; dash &= dash - 1) {
            Py_ssize_t d = at + __builtin_ctzll(dash);
            uint8_t next = d + 1 < n ? p[d + 1] : 0, before = d > 0 ? p[d - 1] : 0;
            if ((next == ' ' || next == '\t' || next == '\n' || next == '\r' || next == '\v' || next == '\f')
                    && (uint8_t)((before | 0x20) - 'a') < 26
                    && !push(&dashes, &nd, &cap_dash, d)) {
                failed = 1;
                break;
            }
        }
        /* a "[" before a digit, or before a blank and a digit (where a citation mark may be) */
        for (uint64_t open = equal64(at + 64 <= n ? p + at : pad, '['); open; open &= open - 1) {
            Py_ssize_t d = at + __builtin_ctzll(open);
            Py_ssize_t digit_at = d + 1 < n && p[d + 1] == ' ' ? d + 2 : d + 1;
            if (digit_at < n && (uint8_t)(p[digit_at] - '0') < 10 && !push(&brackets, &nb, &cap_b, d)) {
                failed = 1;
                break;
            }
        }
        for (; ends; ends &= ends - 1)
            e[ne++] = at + __builtin_ctzll(ends);
        for (; starts; starts &= starts - 1) {
            int64_t start = at + __builtin_ctzll(starts);
            if (ns == 0 || e[ns - 1] != start)  /* (the ends of a block are written before its starts) */
                chain = ns;
            s[ns++] = start;
        }
        for (hump = camel ? hump : 0; hump && !failed; hump &= hump - 1) {
            Py_ssize_t at_hump = at + __builtin_ctzll(hump);
            if (at_hump < run_end)  /* (a run of letters and digits is decided at its first hump) */
                continue;
            run_start = at_hump;
            while (run_start > 0 && ascii_is_alnum(p[run_start - 1]))
                run_start--;
            run_end = at_hump + 1;
            while (run_end < n && ascii_is_alnum(p[run_end]))
                run_end++;
            nh = 0;  /* its humps, read from its bytes (it may go on past this block) */
            for (Py_ssize_t i = at_hump; i < run_end && !failed; i++)
                if (ascii_upper(p[i]) && ascii_small(p[i - 1]) && !push(&h, &nh, &cap_h, i))
                    failed = 1;
            if (!failed && !camel_cuts(p, run_start, run_end, h, nh, &glued, &nglued, &cap_glued, &halves, &nhalves,
                                       &cap_halves))
                failed = 1;
        }
        /* the falls of runs without a hump (USTrade): two words, a half cut */
        if (camel && ((upper & (upper >> 1)) | (upper >> 63)))
            for (uint64_t falls = ascii_lone_falls64(p, n, at, upper, small); falls && !failed; falls &= falls - 1) {
                Py_ssize_t cut = at + __builtin_ctzll(falls) + 1;
                if (cut >= fall_read)
                    failed = !lone_fall(p, n, cut, &fall_read, &halves, &nhalves, &cap_halves);
            }
        /* the cuts among the bounds written: those before the next block (cuts never fall on a bound) */
        for (; placed < nglued && glued[placed] < at + 64 && !failed; placed++) {
            if (ns == room || ne == room) {  /* (never: the room was counted) */
                failed = 1;
                break;
            }
            if (chain >= ns || glued[placed] <= s[chain])
                again = 1;
            insert_near_end(s, &ns, glued[placed]);
            insert_near_end(e, &ne, glued[placed]);
        }
        for (; long_at > 0 && !again && !failed && listed + 1 < chain; listed++)
            failed = !link_or_long(s, e, listed, ns, long_at, &links, &nlinks, &cap_links, &longs, &nlongs, &cap_longs);
    }
    if (ne < ns)  /* a run that goes on to the end */
        e[ne++] = n;
    if (again)
        listed = nlinks = nlongs = 0;
    for (; long_at > 0 && !failed && listed < ns; listed++)
        failed = !link_or_long(s, e, listed, ns, long_at, &links, &nlinks, &cap_links, &longs, &nlongs, &cap_longs);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    PyMem_RawFree(h);
    if (!failed && nglued < most_cuts && (PyByteArray_Resize(o_starts, (tokens + nglued) * 8) < 0
                                          || PyByteArray_Resize(o_ends, (tokens + nglued) * 8) < 0)) {
        PyErr_Clear();
        failed = 1;
    }
    PyObject *result = NULL;
    if (!failed && long_at > 0)
        result = Py_BuildValue("(OOy#y#y#y#y#)", o_starts, o_ends, (const char *)halves, nhalves * 8,
                               (const char *)dashes, nd * 8, (const char *)brackets, nb * 8, (const char *)links,
                               nlinks * 8, (const char *)longs, nlongs * 8);
    else if (!failed)
        result = Py_BuildValue("(OOy#y#y#)", o_starts, o_ends, (const char *)halves, nhalves * 8, (const char *)dashes,
                               nd * 8, (const char *)brackets, nb * 8);
    Py_DECREF(o_starts);
    Py_DECREF(o_ends);
    PyMem_RawFree(dashes);
    PyMem_RawFree(brackets);
    PyMem_RawFree(glued);
    PyMem_RawFree(halves);
    PyMem_RawFree(links);
    PyMem_RawFree(longs);
    if (failed)
        return PyErr_NoMemory();
    return result;
}


#ifdef WIDE_CLASSES
/* Whether "0000000" at q starts a line, blanks before it aside (encoded._offsets). */
static int starts_line(const uint8_t *p, Py_ssize_t q) {
    while (q > 0 && (p[q - 1] == ' ' || p[q - 1] == '\t'))
        q--;
    return q == 0 || p[q - 1] == '\n';
}
#endif

/* Whether q holds an ISO-2022 escape that designates a set other than ASCII: "ESC $" (two-byte
 * sets: JIS X 0208, GB 2312, KS X 1001...), "ESC ( I" (half-width katakana), "ESC ." (a set
 * for single shifts) and the single shifts "ESC N", "ESC O", not the escapes of terminal colours
 * ("ESC [") or "ESC ( B" back to ASCII. */
static inline int iso2022_shift(const uint8_t *q) {
    return q[0] == 0x1B && (q[1] == '$' || q[1] == '.' || q[1] == 'N' || q[1] == 'O' || (q[1] == '(' && q[2] == 'I'));
}

/* A byte of standard base64 (not "-", which ends a UTF-7 shift, nor "_"). */
static inline int utf7_base64(uint8_t c) { return (CLASS[c] & 4) && c != '-' && c != '_'; }

/* Whether the "+" at q starts a UTF-7 shift that makes a character: three base64 characters or
 * more (encoded._UTF7_SHIFT). Whole or cut short (bits left over, which no encoder writes but
 * every lenient decoder reads past), a shift is read: an evader's junk character after each
 * shift, or a mark in each, hid text that decoders show. *until: where the shift's characters
 * end ("+" among them start no shift). */
static int utf7_mark(const uint8_t *p, Py_ssize_t n, Py_ssize_t q, Py_ssize_t *until) {
    Py_ssize_t r = q + 1;
    while (r < n && utf7_base64(p[r]))
        r++;
    *until = r;
    return r - q - 1 >= 3;
}

#define LINE_REACH 32768  /* bytes of a marked line taken each way from its mark at most */

/* The line of a mark of a 7-bit encoding at q (kind 1: an ISO-2022 escape; 8: SO, ISO-2022-KR; 2: "~{", HZ;
 * 4: a UTF-7 shift), appended to `lines` as (start, end, kinds) once: a later mark in the
 * line recorded last adds its kind there, and takes the line on LINE_REACH bytes past itself
 * where the line was cut short (a shift that starts near the cut is read whole). 0 when out of
 * memory. */
static int mark_line(const uint8_t *p, Py_ssize_t n, Py_ssize_t q, int kind, int64_t **lines, Py_ssize_t *nlines,
                     Py_ssize_t *cap) {
    Py_ssize_t floor = q > LINE_REACH ? q - LINE_REACH : 0, reach = n - q < LINE_REACH ? n - q : LINE_REACH;
    if (*nlines) {
        int64_t *last = *lines + *nlines - 3;
        if (q < last[1]) {
            last[2] |= kind;
            if (last[1] < q + reach && p[last[1]] != '\n') {  /* (searched from the cut on: each byte once) */
                const uint8_t *newline = memchr(p + last[1], '\n', (size_t)(q + reach - last[1]));
                last[1] = newline == NULL ? q + reach : (Py_ssize_t)(newline - p);
            }
            return 1;
        }
        if (floor < last[1])
            floor = last[1];
    }
    const uint8_t *newline = memchr(p + q, '\n', (size_t)reach);
    Py_ssize_t start = q, end = newline == NULL ? q + reach : (Py_ssize_t)(newline - p);
    while (start > floor && p[start - 1] != '\n')
        start--;
    return push(lines, nlines, cap, start) && push(lines, nlines, cap, end) && push(lines, nlines, cap, kind);
}

#ifdef WIDE_CLASSES
#define MARK_BATCH 128  /* blocks whose masks `encoded_marks` computes at a time */

/* The masks of the 64 bytes at b for `encoded_marks`: "0", "=", and the bytes rare in text that
 * it checks one by one: "%", "\\", "x" or "X" (escapes), "+", "~", ESC and SO (7-bit encodings). */
static inline void marks64(const uint8_t *b, uint64_t *zero, uint64_t *equals, uint64_t *rare) {
    *zero = *equals = *rare = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(b + 16 * k));
        __m128i odd = _mm_or_si128(_mm_or_si128(bytes_equal(v, '%'), bytes_equal(v, '\\')),
                                   bytes_equal(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'x'));
        odd = _mm_or_si128(odd, _mm_or_si128(_mm_or_si128(bytes_equal(v, '+'), bytes_equal(v, '~')),
                                             _mm_or_si128(bytes_equal(v, 0x1B), bytes_equal(v, 0x0E))));
        *zero |= (uint64_t)(uint16_t)_mm_movemask_epi8(bytes_equal(v, '0')) << (16 * k);
        *equals |= (uint64_t)(uint16_t)_mm_movemask_epi8(bytes_equal(v, '=')) << (16 * k);
        *rare |= (uint64_t)(uint16_t)_mm_movemask_epi8(odd) << (16 * k);
    }
}

#ifdef AVX2_AT_HAND
static AVX2 void marks_blocks_avx2(const uint8_t *p, Py_ssize_t blocks, uint64_t *zero, uint64_t *equals,
                                   uint64_t *rare) {
    for (Py_ssize_t k = 0; k < blocks; k++) {
        uint64_t z = 0, e = 0, r = 0;
        for (int h = 0; h < 2; h++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(p + 64 * k + 32 * h));
            __m256i odd = _mm256_or_si256(_mm256_or_si256(bytes_equal32(v, '%'), bytes_equal32(v, '\\')),
                                          bytes_equal32(_mm256_or_si256(v, _mm256_set1_epi8(0x20)), 'x'));
            odd = _mm256_or_si256(odd, _mm256_or_si256(_mm256_or_si256(bytes_equal32(v, '+'), bytes_equal32(v, '~')),
                                                       _mm256_or_si256(bytes_equal32(v, 0x1B), bytes_equal32(v, 0x0E))));
            z |= (uint64_t)(uint32_t)_mm256_movemask_epi8(bytes_equal32(v, '0')) << (32 * h);
            e |= (uint64_t)(uint32_t)_mm256_movemask_epi8(bytes_equal32(v, '=')) << (32 * h);
            r |= (uint64_t)(uint32_t)_mm256_movemask_epi8(odd) << (32 * h);
        }
        zero[k] = z;
        equals[k] = e;
        rare[k] = r;
    }
}
#endif

/* `marks64` of `blocks` blocks from p on (32 bytes a step where the processor has AVX2). */
static void marks_blocks(const uint8_t *p, Py_ssize_t blocks, uint64_t *zero, uint64_t *equals, uint64_t *rare) {
#ifdef AVX2_AT_HAND
    if (use_avx2) {
        marks_blocks_avx2(p, blocks, zero, equals, rare);
        return;
    }
#endif
    for (Py_ssize_t k = 0; k < blocks; k++)
        marks64(p + 64 * k, zero + k, equals + k, rare + k);
}
#endif

/* Where "0000000" starts a line, blanks aside (encoded._offsets), appended to `dumps`;
 * counts[0..3]: "0x" or "0X" (as many C-array bytes, encoded._HEX_ARRAY_BYTE, at most), "="
 * (as many quoted-printable escapes at most), the escapes "%" and "\x" followed by two hex
 * digits (encoded._PERCENT, encoded._BACKSLASH_X); and the lines of the marks of text in a 7-bit
 * encoding: escapes to sets other than ASCII (ISO-2022: `iso2022_shift`), SO (ISO-2022-KR), "~{"
 * (HZ), UTF-7 shifts (`utf7_mark`), to `lines` (`mark_line`: encoded._seven_bit
 * reads them). 0 when out of memory. */
static int encoded_marks(const uint8_t *p, Py_ssize_t n, int64_t **dumps, Py_ssize_t *ndump, Py_ssize_t *cap,
                         Py_ssize_t counts[4], int64_t **lines, Py_ssize_t *nlines, Py_ssize_t *cap_lines,
                         int64_t **escapes, Py_ssize_t *nescapes, Py_ssize_t *cap_escapes) {
    Py_ssize_t utf7_until = 0;  /* where the last UTF-7 shift measured ends */
#ifdef WIDE_CLASSES
    Py_ssize_t zeros = 0;  /* "0" bytes that end what was read */
    uint8_t last[64 + 3];  /* the last bytes, less than 64, and zeros after them */
    uint64_t zeros64[MARK_BATCH], equals64[MARK_BATCH], rare64[MARK_BATCH];
    /* blocks whose three bytes after them are in the text (those decide escapes at a block's end):
     * their masks a batch at a time; the rest from a copy with zeros after it */
    Py_ssize_t full = n >= 64 + 3 ? (n - 64 - 3) / 64 + 1 : 0, batch = 0, t = 0;
    for (Py_ssize_t at = 0; at < n; at += 64, t++) {
        const uint8_t *b = p + at;
        if (t == batch) {
            t = 0;
            if (at / 64 < full) {
                batch = full - at / 64 < MARK_BATCH ? full - at / 64 : MARK_BATCH;
                marks_blocks(b, batch, zeros64, equals64, rare64);
            }
            else {
                batch = 1;
                memset(last, 0, sizeof(last));
                memcpy(last, b, (size_t)(n - at < (Py_ssize_t)sizeof(last) ? n - at : (Py_ssize_t)sizeof(last)));
                marks64(last, zeros64, equals64, rare64);
            }
        }
        if (at / 64 >= full)
            b = last;
        uint64_t zero = zeros64[t], equals = equals64[t], rare = rare64[t];
        counts[1] += bits_set(equals);
        for (; rare; rare &= rare - 1) {
            int i = __builtin_ctzll(rare);
            if (b[i] == '%' || b[i] == '\\') {
                int percent = b[i] == '%';
                if (percent ? CLASS[b[i + 1]] & CLASS[b[i + 2]] & 1
                            : b[i + 1] == 'x' && (CLASS[b[i + 2]] & CLASS[b[i + 3]] & 1)) {
                    counts[percent ? 2 : 3]++;
                    if (!push(escapes, nescapes, cap_escapes, at + i))
                        return 0;
                }
            }
            else if (b[i] == '+') {
                if (at + i >= utf7_until && utf7_mark(p, n, at + i, &utf7_until)
                    && !mark_line(p, n, at + i, 4, lines, nlines, cap_lines))
                    return 0;
            }
            else if (iso2022_shift(b + i) || b[i] == 0x0E || (b[i] == '~' && b[i + 1] == '{')) {
                if (!mark_line(p, n, at + i, b[i] == 0x1B ? 1 : b[i] == 0x0E ? 8 : 2, lines, nlines, cap_lines))
                    return 0;
            }
            else if (b[i] == '~' || b[i] == 0x1B)
                continue;
            else  /* "0x" or "0X", counted at its "x" */
                counts[0] += i > 0 ? b[i - 1] == '0' : at > 0 && p[at - 1] == '0';
        }
        if (!zero) {  /* (most blocks of text: no run of "0" goes on) */
            zeros = 0;
            continue;
        }
        for (uint64_t ends = run_ends(zero, &zeros, 7); ends; ends &= ends - 1) {
            Py_ssize_t q = at + __builtin_ctzll(ends) - 6;
            if (starts_line(p, q) && !push(dumps, ndump, cap, q))
                return 0;
        }
    }
    return 1;
#else
    for (Py_ssize_t line = 0; line < n;) {
        Py_ssize_t q = line;
        while (q < n && (p[q] == ' ' || p[q] == '\t'))
            q++;
        if (q + 7 <= n && memcmp(p + q, "0000000", 7) == 0 && !push(dumps, ndump, cap, q))
            return 0;
        const uint8_t *next = memchr(p + q, '\n', (size_t)(n - q));
        line = next == NULL ? n : (Py_ssize_t)(next - p) + 1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        counts[0] += c == '0' && i + 1 < n && (p[i + 1] == 'x' || p[i + 1] == 'X');
        counts[1] += c == '=';
        int percent = c == '%' && i + 2 < n && (CLASS[p[i + 1]] & CLASS[p[i + 2]] & 1);
        int backslash = c == '\\' && i + 3 < n && p[i + 1] == 'x' && (CLASS[p[i + 2]] & CLASS[p[i + 3]] & 1);
        counts[2] += percent;
        counts[3] += backslash;
        if ((percent || backslash) && !push(escapes, nescapes, cap_escapes, i))
            return 0;
        uint8_t after[3] = {c, i + 1 < n ? p[i + 1] : 0, i + 2 < n ? p[i + 2] : 0};  /* (zeros past the end) */
        int kind = iso2022_shift(after) ? 1 : c == 0x0E ? 8 : c == '~' && i + 1 < n && p[i + 1] == '{' ? 2
                   : c == '+' && i >= utf7_until && utf7_mark(p, n, i, &utf7_until) ? 4 : 0;
        if (kind && !mark_line(p, n, i, kind, lines, nlines, cap_lines))
            return 0;
    }
    return 1;
#endif
}

static inline int blank_byte(uint8_t c) { return c == ' ' || (c >= 9 && c <= 13); }

/* The words of p[0:n] (runs of bytes between ASCII blanks) that may hold an escaped word of
 * encoded._escaped, as (start, end) pairs appended to `spans`: those holding `least` of the
 * escapes at esc[0..m) (ascending) or more, and those holding one or more that run on past either
 * end of p (the rest of them is in the text before or after, which another chunk reads). Each
 * byte is read twice at most. 0 when out of memory. */
static int escape_words(const uint8_t *p, Py_ssize_t n, const int64_t *esc, Py_ssize_t m, Py_ssize_t least,
                        int64_t **spans, Py_ssize_t *nspans, Py_ssize_t *cap_spans) {
    for (Py_ssize_t i = 0; i < m;) {
        Py_ssize_t start = esc[i], end, held = 0;
        while (start > 0 && !blank_byte(p[start - 1]))  /* (back to where the word before ended, at most) */
            start--;
        for (;;) {  /* the escapes of this word: until a blank comes before the next one */
            Py_ssize_t limit = i + 1 < m ? esc[i + 1] : n;
            held++;
            for (end = esc[i++] + 1; end < limit && !blank_byte(p[end]); end++)
                ;
            if (end < limit || i >= m)
                break;
        }
        if ((held >= least || ((start == 0 || end == n) && held > 0))
                && !(push(spans, nspans, cap_spans, start) && push(spans, nspans, cap_spans, end)))
            return 0;
    }
    return 1;
}

static PyObject *encoded_starts(PyObject *self, PyObject *args) {
    Py_buffer data;
    Py_ssize_t min_run, first, min_distinct, min_escapes;
    if (!PyArg_ParseTuple(args, "y*nnnn", &data, &min_run, &first, &min_distinct, &min_escapes))
        return NULL;
    const uint8_t *p = data.buf;
    Py_ssize_t n = data.len;
    Py_ssize_t cap64 = 64, cap_hex = 64, n64 = 0, nhex = 0, cap_dump = 64, ndump = 0, counts[4] = {0};
    int64_t *runs = PyMem_RawMalloc(cap64 * sizeof(int64_t)), *hexes = PyMem_RawMalloc(cap_hex * sizeof(int64_t));
    int64_t *dumps = PyMem_RawMalloc(cap_dump * sizeof(int64_t));
    Py_ssize_t nlines = 0, cap_lines = 48, nescapes = 0, cap_escapes = 64, nwords = 0, cap_words = 64;
    int64_t *lines = PyMem_RawMalloc(cap_lines * sizeof(int64_t));
    int64_t *escapes = PyMem_RawMalloc(cap_escapes * sizeof(int64_t)), *words = PyMem_RawMalloc(cap_words * sizeof(int64_t));
    if (runs == NULL || hexes == NULL || dumps == NULL || lines == NULL || escapes == NULL || words == NULL) {
        PyMem_RawFree(runs);
        PyMem_RawFree(hexes);
        PyMem_RawFree(dumps);
        PyMem_RawFree(lines);
        PyMem_RawFree(escapes);
        PyMem_RawFree(words);
        PyBuffer_Release(&data);
        return PyErr_NoMemory();
    }
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    /* base64: runs of the alphabet `first` long or more that are `min_run` long or end a line;
     * then, as encoded._candidates reads them (each match read from the end of the last one on),
     * only those whose match holds `min_run` characters or more, white space aside, `min_distinct`
     * of them different among the first 256: the rest (rules of dashes, short lines) are
     * candidates the caller would only turn down */
    Py_ssize_t j = 0, s, e, read_to = 0;
    while (!failed && first > 0 && next_stretch(p, n, &j, first, 4, &s, &e)) {
        Py_ssize_t after = e;  /* blanks may stand before the line break */
        while (after < n && (p[after] == ' ' || p[after] == '\t'))
            after++;
        if (!(e - s >= min_run || (after < n && (p[after] == '\n' || p[after] == '\r'))) || s < read_to)
            continue;
        Py_ssize_t end = base64_match_end(p, n, s), compact = 0;
        uint8_t seen[256] = {0};
        int distinct = 0;
        for (Py_ssize_t i = s; i < end; i++) {
            uint8_t c = p[i];
            if (c == ' ' || (c >= 9 && c <= 13))
                continue;
            if (compact++ < 256 && !seen[c]) {
                seen[c] = 1;
                distinct++;
            }
        }
        read_to = end > s + 1 ? end : s + 1;
        if (compact >= min_run && distinct >= min_distinct && !push(&runs, &n64, &cap64, s))
            failed = 1;
    }
    /* hex bytes: eight in a row, each followed by the same number u - 2 (one to three) of
     * separators, so within 24 bytes or more that are each a hex digit or a separator. In such
     * a stretch a unit of u bytes ends at a separator `at` when exactly u - 2 separators end
     * there and the two bytes before them are hex digits, and ring[u][at & 7] counts the units
     * of width u that end one after the other at `at` (the count u bytes back is still there). */
    j = 0;
    while (!failed && next_stretch(p, n, &j, 24, 3, &s, &e)) {
        Py_ssize_t digits = 0;  /* eight bytes need sixteen digits: rules and runs of blanks have none */
        for (Py_ssize_t at = s; at < e && digits < 16; at++)
            digits += CLASS[p[at]] & 1;
        if (digits < 16)
            continue;
        Py_ssize_t ring[6][8] = {{0}}, seps = 0;
        for (Py_ssize_t at = s; at < e && !failed; at++) {
            int slot = (int)(at & 7);
            if (!(CLASS[p[at]] & 2)) {
                seps = 0;
                ring[3][slot] = ring[4][slot] = ring[5][slot] = 0;
                continue;
            }
            seps++;
            for (int u = 3; u <= 5; u++) {
                int unit = seps == u - 2 && at - u + 1 >= s && (CLASS[p[at - u + 1]] & CLASS[p[at - u + 2]] & 1);
                Py_ssize_t chain = unit ? ring[u][(at - u) & 7] + 1 : 0;
                ring[u][slot] = chain;
                if (chain >= 8 && !push(&hexes, &nhex, &cap_hex, at - 8 * u + 1))
                    failed = 1;
            }
        }
    }
    if (!failed && nhex > 1)
        qsort(hexes, (size_t)nhex, sizeof(int64_t), compare_offsets);  /* the three widths, in order */
    /* dump offsets, "0x", and the counts of "=" and escapes: `encoded_marks` */
    if (!failed)
        failed = !encoded_marks(p, n, &dumps, &ndump, &cap_dump, counts, &lines, &nlines, &cap_lines, &escapes,
                                &nescapes, &cap_escapes);
    if (!failed)  /* (most of mail's escapes are the few "%20" of a link: in no word to read) */
        failed = !escape_words(p, n, escapes, nescapes, min_escapes, &words, &nwords, &cap_words);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    PyObject *result = NULL;
    if (failed)
        PyErr_NoMemory();
    else
        result = Py_BuildValue("(y#y#y#nnnny#y#)", (const char *)runs, n64 * 8, (const char *)hexes, nhex * 8,
                               (const char *)dumps, ndump * 8, counts[0], counts[1], counts[2], counts[3],
                               (const char *)lines, nlines * 8, (const char *)words, nwords * 8);
    PyMem_RawFree(escapes);
    PyMem_RawFree(words);
    PyMem_RawFree(runs);
    PyMem_RawFree(hexes);
    PyMem_RawFree(dumps);
    PyMem_RawFree(lines);
    return result;
}


/* normalise.Tokens.marks: the numbers, each a digit token (first character an ASCII digit) or a
 * run of them joined by one character that is not blank each (``8:07``, ``12/05/01``,
 * ``1-713-853-0100``), that touch a word on either side (a token not a digit token, `glued_word`
 * characters or longer, with at most `attached_gap` characters between them and none of them
 * blank), or that stand between two such tokens of any length with at most `between_gap`
 * characters on each side: every token of such a number; in text of code points, the strays too
 * (`strays_in`). Blank: a code point below 33, U+0085, U+2028, U+2029 or U+3000. Int64 token
 * numbers, in order, as bytes; with `want_splits`, three such: those, normalise.Tokens' split
 * words (the first and the last token of each chain of two to SPLIT_PIECES tokens that start
 * with a character below `latin_end`, are no numbers, and stand one to SPLIT_CHARS characters
 * apart (`cut_between`), with a blank (or the text's end) before the first and after the last,
 * in turn), and the groups of marks that touch the token before them (see below). */
static inline int is_blank(uint32_t c) { return c < 33 || c == 0x85 || c == 0x2028 || c == 0x2029 || c == 0x3000; }

#define SPLIT_CHARS 3  /* normalise.SPLIT_CHARS */
#define SPLIT_PIECES 8  /* normalise.SPLIT_PIECES */
#define JOIN_MARKS 8  /* normalise.JOIN_MARKS */

/* Whether a blank stands in [from, to) of the text (from < 0: the text's start, which counts
 * as one). */
static inline int blank_between(const void *text, int width, Py_ssize_t from, Py_ssize_t to) {
    if (from < 0)
        return 1;
    for (Py_ssize_t k = to - 1; k >= from; k--)
        if (is_blank(code_at(text, width, k)))
            return 1;
    return 0;
}

/* Whether [from, to) (one to SPLIT_CHARS characters) cuts a word (`Tokens.splits`): one
 * character that is not blank, or more that are the same character (``--``, two emoji) or are
 * all beyond ASCII; not ASCII punctuation of several kinds (markup, ``="``, ``</``, ``://``). */
static inline int cut_between(const void *text, int width, Py_ssize_t from, Py_ssize_t to) {
    uint32_t first = code_at(text, width, from);
    int same = 1, wide = 1;
    for (Py_ssize_t k = from; k < to; k++) {
        uint32_t c = code_at(text, width, k);
        if (is_blank(c))
            return 0;
        same &= c == first;
        wide &= c >= 128;
    }
    return to - from == 1 || same || wide;
}

/* Whether the cut [b, b_end) is the cut [a, a_end) again (a word cut in three pieces or more is
 * cut the same way throughout: ``mo-le-cu-lar``, not an address, ``Allen/HOU/ECT@ECT``). */
static inline int same_cut(const void *text, int width, Py_ssize_t a, Py_ssize_t a_end, Py_ssize_t b,
                           Py_ssize_t b_end) {
    if (a_end - a != b_end - b)
        return 0;
    for (Py_ssize_t k = 0; k < a_end - a; k++)
        if (code_at(text, width, a + k) != code_at(text, width, b + k))
            return 0;
    return 1;
}

/* glued_marks over code points of `width` bytes (a constant where it is called, so each width
 * gets its own loop): the marks pushed; 0 when a token's bounds do not fit, -1 out of memory.
 * Bounds are checked as the tokens are read (a token is read before its neighbour's check
 * reads it). */
static inline int glued_marks_in(const void *text, int width, Py_ssize_t n, const int64_t *s, const int64_t *e,
                                 Py_ssize_t m, Py_ssize_t glued_word, Py_ssize_t attached_gap,
                                 Py_ssize_t between_gap, int64_t **out, Py_ssize_t *count, Py_ssize_t *cap,
                                 uint32_t latin_end, int64_t **splits, Py_ssize_t *nsplits, Py_ssize_t *cap_splits) {
    const uint8_t *p8 = text;
    const uint32_t *p32 = text;
#define AT(k) (width == 1 ? (uint32_t)p8[k] : p32[k])
#define FITS(t) (s[t] >= 0 && s[t] < n && e[t] >= s[t] && e[t] <= n)
#define DIGIT(t) (AT(s[t]) - 48u < 10u)
    Py_ssize_t last = -1;  /* the last token of the number read last */
    int mark = 0;  /* whether that number is a mark */
    for (Py_ssize_t i = 0; i < m; i++) {
        if (!FITS(i))
            return 0;
        if (!DIGIT(i)) {
            /* a word cut in pieces by up to SPLIT_CHARS characters each (`Tokens.splits`): the character
             * after most tokens is a blank, read first */
            if (splits != NULL && i + 1 < m && e[i] < n && AT(e[i]) > 32 && s[i + 1] - e[i] <= SPLIT_CHARS
                && AT(s[i]) < latin_end && blank_between(text, width, i > 0 ? e[i - 1] : -1, s[i])) {
                Py_ssize_t j = i;  /* the last piece */
                for (;;) {
                    if (j + 1 >= m)
                        break;
                    if (!FITS(j + 1))
                        return 0;
                    if (!(s[j + 1] - e[j] >= 1 && s[j + 1] - e[j] <= SPLIT_CHARS && !DIGIT(j + 1)
                          && AT(s[j + 1]) < latin_end && cut_between(text, width, e[j], s[j + 1])
                          && (j == i || same_cut(text, width, e[i], s[i + 1], e[j], s[j + 1]))))
                        break;
                    j++;
                }
                if (j > i && j - i < SPLIT_PIECES && (j + 1 >= m || (FITS(j + 1) && blank_between(text, width, e[j], s[j + 1])))
                    && !(push(splits, nsplits, cap_splits, i) && push(splits, nsplits, cap_splits, j)))
                    return -1;
            }
            continue;
        }
        if (i > last) {  /* a number starts: its tokens, then whether it touches a word or stands between two */
            Py_ssize_t j = i;
            for (;;) {
                if (j + 1 < m && !FITS(j + 1))
                    return 0;
                if (!(j + 1 < m && DIGIT(j + 1) && s[j + 1] - e[j] == 1 && !is_blank(AT(e[j]))))
                    break;
                j++;
            }
            last = j;
            mark = 0;
            for (int side = -1; side <= 1 && !mark; side += 2) {
                Py_ssize_t t = side < 0 ? i : j, w = t + side;
                if (w < 0 || w >= m || DIGIT(w) || e[w] - s[w] < glued_word)
                    continue;
                Py_ssize_t lo = e[w] < e[t] ? e[w] : e[t], hi = s[w] > s[t] ? s[w] : s[t];
                if (hi - lo > attached_gap)
                    continue;
                int attached = 1;
                for (Py_ssize_t k = lo; k < hi && attached; k++)
                    attached = !is_blank(AT(k));
                mark = attached;
            }
            if (!mark && i > 0 && j < m - 1 && !DIGIT(i - 1) && !DIGIT(j + 1)
                && s[i] - e[i - 1] <= between_gap && s[j + 1] - e[j] <= between_gap)
                mark = 1;
        }
        if (mark && !push(out, count, cap, i))
            return -1;
    }
    return 1;
#undef DIGIT
#undef FITS
#undef AT
}

/* Whether every character of token [s, e) of p is `latin_end` or above (``жaж`` is a word: a). */
static inline int all_beyond(const uint32_t *p, int64_t s, int64_t e, uint32_t latin_end) {
    for (int64_t k = s; k < e; k++)
        if (p[k] < latin_end)
            return 0;
    return 1;
}

/* Whether token [s, e) of p is a Latin word to a stray beside it (see strays_in). */
static inline int latin_word(const uint32_t *p, int64_t s, int64_t e, Py_ssize_t stray_chars, uint32_t latin_end) {
    if (p[s] < latin_end || p[e - 1] < latin_end)
        return 1;
    for (Py_ssize_t k = 1; k <= stray_chars; k++)  /* strays glued to both ends (``жheldж``) */
        if (p[s + k < e ? s + k : e - 1] < latin_end)
            return 1;
    return 0;
}

/* normalise._strays for code points, after glued_marks_in checked the bounds: the tokens of at
 * most `stray_chars` characters, each `latin_end` or above, alone or two side by side, between two
 * tokens that are no numbers and start or end with a character below it (or have one among their
 * first stray_chars + 1: `latin_word`), a number between them and a word passed over, at most
 * `between_gap` characters apart; pushed in order. A pass of its own: in the loop over every token
 * for the numbers, the test cost a typographic mail's 1.6 million tokens 10 million instructions
 * more, here 5. -1 out of memory. */
static int strays_in(const uint32_t *p, const int64_t *s, const int64_t *e, Py_ssize_t m, Py_ssize_t stray_chars,
                     uint32_t latin_end, Py_ssize_t between_gap, int64_t **out, Py_ssize_t *count, Py_ssize_t *cap) {
#define DIGIT(t) (p[s[t]] - 48u < 10u)
#define LATIN(t) ((t) >= 0 && (t) < m && !DIGIT(t) && latin_word(p, s[t], e[t], stray_chars, latin_end))
#define STRAY(t) ((t) >= 0 && (t) < m && e[t] - s[t] <= stray_chars && all_beyond(p, s[t], e[t], latin_end))
#define NEAR(t) (s[(t) + 1] - e[t] <= between_gap)  /* the gap after token t */
#define NUMBER(t) ((t) >= 0 && (t) < m && DIGIT(t))
/* a Latin word before the strays from a (a number between them perhaps), and one after those up to b */
#define LEFT(a) (!STRAY((a) - 1) && ((LATIN((a) - 1) && NEAR((a) - 1)) || (NUMBER((a) - 1) && LATIN((a) - 2) \
                 && !STRAY((a) - 2) && NEAR((a) - 2) && NEAR((a) - 1))))
#define RIGHT(b) (!STRAY((b) + 1) && ((LATIN((b) + 1) && NEAR(b)) || (NUMBER((b) + 1) && LATIN((b) + 2) \
                  && !STRAY((b) + 2) && NEAR(b) && NEAR((b) + 1))))
    for (Py_ssize_t i = 1; i + 1 < m; i++) {
        if (p[s[i]] < latin_end || !STRAY(i))
            continue;
        int before = STRAY(i - 1), after = STRAY(i + 1);
        if (before && after)
            continue;
        Py_ssize_t a = before ? i - 1 : i, b = after ? i + 1 : i;  /* the strays side by side */
        if (LEFT(a) && RIGHT(b) && (a == b || NEAR(a)) && !push(out, count, cap, i))
            return -1;
    }
    return 1;
#undef RIGHT
#undef LEFT
#undef NUMBER
#undef NEAR
#undef STRAY
#undef LATIN
#undef DIGIT
}

/* The ascending union of two ascending, disjoint lists, into a new one (NULL: out of memory). */
static int64_t *merged(const int64_t *a, Py_ssize_t na, const int64_t *b, Py_ssize_t nb) {
    int64_t *out = PyMem_RawMalloc((na + nb + 1) * sizeof(int64_t));
    if (out == NULL)
        return NULL;
    Py_ssize_t i = 0, j = 0, k = 0;
    while (i < na || j < nb)
        out[k++] = j >= nb || (i < na && a[i] < b[j]) ? a[i++] : b[j++];
    return out;
}

static PyObject *glued_marks(PyObject *self, PyObject *args) {
    PyObject *o_norm, *o_starts, *o_ends;
    Py_ssize_t glued_word, attached_gap, between_gap, stray_chars = 0;
    unsigned int latin_end = 0x250;
    int want_splits = 0;
    if (!PyArg_ParseTuple(args, "OOOnnn|nIp", &o_norm, &o_starts, &o_ends, &glued_word, &attached_gap, &between_gap,
                          &stray_chars, &latin_end, &want_splits))
        return NULL;
    Py_buffer norm, starts, ends;
    Want want[] = {{o_norm, &norm, 0, 0, "norm"}, {o_starts, &starts, 8, 0, "starts"}, {o_ends, &ends, 8, 0, "ends"}};
    if (get_all(want, 3) < 0 || !code_points(want, 3))
        return NULL;
    Py_ssize_t n = norm.len / norm.itemsize, m = starts.len / 8, count = 0, cap = 64, nstray = 0, cap_stray = 64;
    Py_ssize_t nsplit = 0, cap_split = 64;
    int ok = ends.len / 8 == m, failed = 0;
    int64_t *out = PyMem_RawMalloc(cap * sizeof(int64_t)), *strays = PyMem_RawMalloc(cap_stray * sizeof(int64_t));
    int64_t *splits = PyMem_RawMalloc(cap_split * sizeof(int64_t));
    if (out == NULL || strays == NULL || splits == NULL)
        failed = 1;
    if (ok && !failed) {
        int got;
        int64_t **split_out = want_splits ? &splits : NULL;
        Py_BEGIN_ALLOW_THREADS
        got = norm.itemsize == 1
            ? glued_marks_in(norm.buf, 1, n, starts.buf, ends.buf, m, glued_word, attached_gap, between_gap, &out, &count,
                             &cap, latin_end, split_out, &nsplit, &cap_split)
            : glued_marks_in(norm.buf, 4, n, starts.buf, ends.buf, m, glued_word, attached_gap, between_gap, &out, &count,
                             &cap, latin_end, split_out, &nsplit, &cap_split);
        if (got > 0 && norm.itemsize == 4 && stray_chars > 0)
            got = strays_in(norm.buf, starts.buf, ends.buf, m, stray_chars, latin_end, between_gap, &strays, &nstray,
                            &cap_stray);
        if (got > 0 && nstray > 0) {
            int64_t *both = merged(out, count, strays, nstray);
            if (both == NULL) {
                got = -1;
            } else {
                PyMem_RawFree(out);
                out = both;
                count += nstray;
            }
        }
        Py_END_ALLOW_THREADS
        ok = got != 0;
        failed = got < 0;
    }
    /* with the splits, the groups of marks that touch the token before them, no mark (nothing
     * between them but a soft hyphen perhaps): marks side by side, each touching the next or one
     * character apart that is not blank (``8:07``), JOIN_MARKS at most, as (first, last) pairs:
     * where a word cut in pieces by marks may be (`Tokens.joins`) */
    Py_ssize_t ntouch = 0;
    int64_t *touching = NULL;
    if (ok && !failed && want_splits) {
        touching = PyMem_RawMalloc((2 * count + 1) * sizeof(int64_t));
        if (touching == NULL)
            failed = 1;
        const int64_t *s = starts.buf, *e = ends.buf;
        int width = (int)norm.itemsize;
#define NORM_AT(k) code_at(norm.buf, width, k)
        for (Py_ssize_t k = 0; !failed && k < count; k++) {
            int64_t i = out[k];
            if (i == 0 || (k > 0 && out[k - 1] == i - 1))
                continue;
            int64_t gap = s[i] - e[i - 1];
            if (!(gap == 0 || (gap == 1 && NORM_AT(e[i - 1]) == 0xAD)))
                continue;
            Py_ssize_t kk = k;
            while (kk + 1 < count && out[kk + 1] == out[kk] + 1 && kk - k + 1 <= JOIN_MARKS
                   && (s[out[kk + 1]] == e[out[kk]]
                       || (s[out[kk + 1]] - e[out[kk]] == 1 && !is_blank(NORM_AT(e[out[kk]])))))
                kk++;
            if (kk - k + 1 > JOIN_MARKS)  /* (a longer group is none) */
                continue;
            touching[ntouch++] = i;
            touching[ntouch++] = out[kk];
        }
#undef NORM_AT
    }
    release_all(want, 3);
    PyObject *result;
    if (!want_splits || !ok || failed)
        result = listed(ok && failed, ok, "token bounds do not fit the text or each other", out, count,
                        want_splits ? splits : NULL, nsplit);
    else
        result = Py_BuildValue("(y#y#y#)", (const char *)out, count * (Py_ssize_t)sizeof(int64_t), (const char *)splits,
                               nsplit * (Py_ssize_t)sizeof(int64_t), (const char *)touching,
                               ntouch * (Py_ssize_t)sizeof(int64_t));
    PyMem_RawFree(out);
    PyMem_RawFree(strays);
    PyMem_RawFree(splits);
    PyMem_RawFree(touching);
    return result;
}


static Py_ssize_t get_sequence(PyObject *o, Py_buffer *views, Py_ssize_t itemsize, const char *what);

/* Whether bit `slot` of a fingerprint.bitmap bitmap is set (bit i of byte i / 8, low bit first). */
static inline int bit_at(const uint8_t *map, uint64_t slot) { return (map[slot >> 3] >> (slot & 7)) & 1; }

/* The shingles DocumentDetector._marks_that_matter looks up: for each glued-number mark
 * (sorted token indices, not flagged in `skip`, nor right after another mark: it leaves the
 * same gap, read once, for the first), the k - 1 windows of k tokens of the other
 * reading (the tokens less every mark) that span the gap it leaves, each hashed as
 * fingerprint.shingles.shingles_of does (h = v0, h = h * mix + v_j, fmix64). Windows that
 * would run past either end of the text are left out. Only the marks numbered [lo, hi) are read
 * (a block at a time: the shingles of every mark of a hostile text would be large); the marks
 * are checked (ascending, inside the text) with the first block, lo = 0. With `bitmaps` (a
 * sequence of fingerprint.bitmap bitmaps, each at least a byte), only the shingles whose bit is
 * set in one of them are listed: the others are in no segment (in mail, 94% of them), and
 * their lists of megabytes were most of the cost. (mark number int64, shingle uint64) as
 * bytes, by mark, then by window. */
#define GAP_BATCH 256  /* shingles hashed before their bitmap bytes are read: asked for together */

typedef struct {
    Py_buffer *maps;
    int bits[64];
    Py_ssize_t nb;
    int64_t *which, *hashes;
    Py_ssize_t count, cap, count2, cap2;
    int64_t batch_which[GAP_BATCH];
    uint64_t batch[GAP_BATCH];
    int nbatch;
} GapOut;

/* The batch's shingles listed (those whose bit is set in a bitmap, when there are bitmaps). */
static int gap_flush(GapOut *o) {
    if (o->nb) {
        for (int i = 0; i < o->nbatch; i++)
            for (Py_ssize_t b = 0; b < o->nb; b++)
                PREFETCH((const uint8_t *)o->maps[b].buf + ((o->batch[i] >> (64 - o->bits[b])) >> 3), 0);
    }
    for (int i = 0; i < o->nbatch; i++) {
        uint64_t h = o->batch[i];
        int keep = o->nb == 0;
        for (Py_ssize_t b = 0; b < o->nb && !keep; b++) {
            uint64_t slot = h >> (64 - o->bits[b]);
            keep = bit_at(o->maps[b].buf, slot);
        }
        if (keep && (!push(&o->which, &o->count, &o->cap, o->batch_which[i])
                     || !push(&o->hashes, &o->count2, &o->cap2, (int64_t)h)))
            return 0;
    }
    o->nbatch = 0;
    return 1;
}

/* A shingle listed for `which` (through the batch: flushed when full); 0 when out of memory. */
static inline int gap_add(GapOut *o, int64_t which, uint64_t h) {
    o->batch_which[o->nbatch] = which;
    o->batch[o->nbatch++] = h;
    return o->nbatch < GAP_BATCH || gap_flush(o);
}

/* Whether every bitmap is a byte or more (their bits set from their sizes). */
static int gap_bits(GapOut *o) {
    int ok = 1;
    for (Py_ssize_t b = 0; b < o->nb; b++) {
        o->bits[b] = log2_floor(o->maps[b].len * 8);
        ok = ok && o->bits[b] > 0 && o->bits[b] < 64;
    }
    return ok;
}

/* The bitmaps released, and the (which, shingle) pairs listed as bytes (see `listed`). */
static PyObject *gap_result(GapOut *o, int failed, int ok, const char *message) {
    for (Py_ssize_t b = 0; b < o->nb; b++)
        PyBuffer_Release(&o->maps[b]);
    PyObject *result = listed(failed, ok, message, o->which, o->count, o->hashes, o->count2);
    PyMem_RawFree(o->which);
    PyMem_RawFree(o->hashes);
    return result;
}

static PyObject *gap_shingles(PyObject *self, PyObject *args) {
    PyObject *o_values, *o_marks, *o_skip, *o_bitmaps = Py_None;
    Py_ssize_t k, lo, hi;
    unsigned long long mix;
    if (!PyArg_ParseTuple(args, "OOOnKnn|O", &o_values, &o_marks, &o_skip, &k, &mix, &lo, &hi, &o_bitmaps))
        return NULL;
    Py_buffer values, marks, skip, maps[64];
    GapOut out = {.maps = maps, .nb = 0, .count = 0, .cap = 256, .count2 = 0, .cap2 = 256, .nbatch = 0};
    if (o_bitmaps != Py_None && (out.nb = get_sequence(o_bitmaps, maps, 1, "bitmap")) < 0)
        return NULL;
    Want want[] = {{o_values, &values, 8, 0, "values"}, {o_marks, &marks, 8, 0, "marks"}, {o_skip, &skip, 1, 0, "skip"}};
    if (get_all(want, 3) < 0) {
        for (Py_ssize_t b = 0; b < out.nb; b++)
            PyBuffer_Release(&maps[b]);
        return NULL;
    }
    Py_ssize_t n = values.len / 8, m = marks.len / 8;
    int ok = skip.len == m && k >= 2 && k <= 16 && lo >= 0 && lo <= hi && hi <= m && gap_bits(&out), failed = 0;
    const int64_t *mk = marks.buf;
    for (Py_ssize_t j = 0; ok && lo == 0 && j < m; j++)  /* ascending, distinct, inside the text */
        ok = mk[j] >= 0 && mk[j] < n && (j == 0 || mk[j] > mk[j - 1]);
    for (Py_ssize_t j = lo; ok && j < hi; j++)  /* (inside the text, whatever the block) */
        ok = mk[j] >= 0 && mk[j] < n;
    out.which = PyMem_RawMalloc(out.cap * sizeof(int64_t));
    out.hashes = PyMem_RawMalloc(out.cap2 * sizeof(int64_t));
    failed = out.which == NULL || out.hashes == NULL;
    if (ok && !failed) {
        const uint64_t *v = values.buf;
        const uint8_t *sk = skip.buf;
        Py_BEGIN_ALLOW_THREADS
        /* Marks come in clusters (a date, a price and a time in one line: half of mail's marks are
         * six tokens or fewer apart), and the windows of neighbouring marks overlap: each window
         * of the other reading is hashed once, rolled on from the one before where it can be (the
         * polynomial less its first token's term, times mix, plus the next token: what hashing the
         * window whole gives, modulo 2^64), and kept in a ring for the marks whose gaps it spans. */
        Py_ssize_t total = n - m;  /* tokens of the other reading */
        uint64_t top = 1;  /* mix^(k - 1): the first token's factor */
        for (Py_ssize_t i = 1; i < k; i++)
            top *= (uint64_t)mix;
        uint64_t tokens[64], hashes[64];  /* rings of the other reading's tokens and windows, by position & 63 */
        uint64_t h = 0;  /* the polynomial of the window at `hashed` */
        Py_ssize_t hashed = -1;  /* the last window hashed (where it starts in the other reading; -1: none) */
        Py_ssize_t next_o = 0, next_mark = 0;  /* the stream: the next token of the text, the next mark at or after it */
        for (Py_ssize_t j = lo; j < hi && !failed; j++) {
            if (j + 8 < hi) {  /* the tokens around a mark further on, asked for early: marks are far apart */
                PREFETCH(v + (mk[j + 8] >= k ? mk[j + 8] - k : 0), 0);
                PREFETCH(v + mk[j + 8], 0);
                PREFETCH(v + (mk[j + 8] + k < n ? mk[j + 8] + k : n - 1), 0);
            }
            if (sk[j] || (j > 0 && mk[j] == mk[j - 1] + 1))  /* (a mark right after another leaves its gap) */
                continue;
            Py_ssize_t gap = mk[j] - j;  /* the token after the mark, in the other reading */
            Py_ssize_t first = gap - (k - 1) > 0 ? gap - (k - 1) : 0, last = gap - 1 < total - k ? gap - 1 : total - k;
            if (first > last)
                continue;
            if (hashed < 0 || first > hashed + k) {  /* far from the windows before: its tokens read afresh */
                /* the first window's tokens before the gap (marks skipped, walking back from the mark) */
                Py_ssize_t o = mk[j] - 1, jj = j - 1;
                for (Py_ssize_t got = 0; got < gap - first;) {
                    if (jj >= 0 && mk[jj] == o) {
                        jj--;
                        o--;
                        continue;
                    }
                    tokens[(gap - 1 - got++) & 63] = v[o--];
                }
                next_o = mk[j] + 1;  /* then the stream, from after the mark */
                next_mark = j + 1;
                for (Py_ssize_t p = gap; p < first + k; p++) {
                    while (next_mark < m && mk[next_mark] == next_o) {
                        next_mark++;
                        next_o++;
                    }
                    tokens[p & 63] = v[next_o++];
                }
                h = tokens[first & 63];
                for (Py_ssize_t i = 1; i < k; i++)
                    h = h * (uint64_t)mix + tokens[(first + i) & 63];
                hashed = first;
                hashes[first & 63] = fmix64(h);
            }
            while (hashed < last) {  /* rolled on to the last window this mark needs */
                Py_ssize_t p = hashed + k;  /* the token that comes in */
                while (next_mark < m && mk[next_mark] == next_o) {
                    next_mark++;
                    next_o++;
                }
                tokens[p & 63] = v[next_o++];
                h = (h - tokens[hashed & 63] * top) * (uint64_t)mix + tokens[p & 63];
                hashed++;
                hashes[hashed & 63] = fmix64(h);
            }
            /* (its windows end at the last one hashed, k - 2 before it at most: all still in the ring) */
            for (Py_ssize_t st = first; st <= last && !failed; st++)
                failed = !gap_add(&out, j, hashes[st & 63]);
        }
        if (!failed && !gap_flush(&out))
            failed = 1;
        Py_END_ALLOW_THREADS
    }
    release_all(want, 3);
    return gap_result(&out, failed, ok, "marks: ascending token indices inside the text, one skip flag each, "
                      "2 <= k <= 16, a block of them and bitmaps of a byte or more expected");
}


/* The shingles DocumentDetector._centres_that_matter looks up: for each token of two glued
 * CamelCase words (`halves`: ascending token indices, their words' keyed values in `first` and
 * `second`), the windows of k tokens of the other reading that hold one of its words: the
 * text less its marks (ascending token indices), every such token read as its two words. With
 * `second` None, each of `halves` is read as one word, `first` (a word with a stray glued to
 * it read alone: `Tokens.tails`). Each window is hashed as fingerprint.shingles.shingles_of
 * does; windows past either end of the text are left out. With `bitmaps`, only the shingles
 * whose bit is set in one of them are listed (see gap_shingles); with `probe` (a uint8 per
 * half), only the windows of the halves flagged 1, and of those flagged 2 the k - 1 windows
 * after them too (the others are still read as their words in those: 2k - 1 windows in a row
 * hold a winnowed fingerprint of a registered text). (half number int64, shingle uint64) as
 * bytes, by half, then by window. */
static PyObject *half_shingles(PyObject *self, PyObject *args) {
    PyObject *o_values, *o_halves, *o_first, *o_second, *o_marks, *o_bitmaps = Py_None, *o_probe = Py_None;
    Py_ssize_t k;
    unsigned long long mix;
    if (!PyArg_ParseTuple(args, "OOOOOnK|OO", &o_values, &o_halves, &o_first, &o_second, &o_marks, &k, &mix,
                          &o_bitmaps, &o_probe))
        return NULL;
    Py_buffer values, halves, first, second, marks, probe, maps[64];
    GapOut out = {.maps = maps, .nb = 0, .count = 0, .cap = 256, .count2 = 0, .cap2 = 256, .nbatch = 0};
    if (o_bitmaps != Py_None && (out.nb = get_sequence(o_bitmaps, maps, 1, "bitmap")) < 0)
        return NULL;
    int two = o_second != Py_None, probing = o_probe != Py_None, wanted = 4;
    Want want[6] = {{o_values, &values, 8, 0, "values"}, {o_halves, &halves, 8, 0, "halves"},
                    {o_first, &first, 8, 0, "first"}, {o_marks, &marks, 8, 0, "marks"}};
    if (two)
        want[wanted++] = (Want){o_second, &second, 8, 0, "second"};
    if (probing)
        want[wanted++] = (Want){o_probe, &probe, 1, 0, "probe"};
    if (get_all(want, wanted) < 0) {
        for (Py_ssize_t b = 0; b < out.nb; b++)
            PyBuffer_Release(&maps[b]);
        return NULL;
    }
    Py_ssize_t n = values.len / 8, nh = halves.len / 8, m = marks.len / 8;
    int ok = first.len / 8 == nh && (!two || second.len / 8 == nh) && (!probing || probe.len == nh) && k >= 2
             && k <= 16 && gap_bits(&out), failed = 0;
    const int64_t *hv = halves.buf, *mk = marks.buf;
    const uint8_t *asked = probing ? probe.buf : NULL;
    for (Py_ssize_t j = 0; ok && j < nh; j++)  /* ascending, distinct, inside the text */
        ok = hv[j] >= 0 && hv[j] < n && (j == 0 || hv[j] > hv[j - 1]);
    for (Py_ssize_t j = 0; ok && j < m; j++)
        ok = mk[j] >= 0 && mk[j] < n && (j == 0 || mk[j] > mk[j - 1]);
    out.which = PyMem_RawMalloc(out.cap * sizeof(int64_t));
    out.hashes = PyMem_RawMalloc(out.cap2 * sizeof(int64_t));
    failed = out.which == NULL || out.hashes == NULL;
    if (ok && !failed) {
        const uint64_t *v = values.buf, *w1 = first.buf, *w2 = two ? second.buf : NULL;
        Py_BEGIN_ALLOW_THREADS
        uint64_t seq[64];  /* k - 1 tokens of the other reading before the half, its word or two, k - 1 after
                            * (2k - 2 when probed wide) */
        Py_ssize_t mark_after = 0;  /* the first mark after the half */
        for (Py_ssize_t j = 0; j < nh && !failed; j++) {
            if (asked != NULL && !asked[j])  /* (read as its words around the others, not looked up itself) */
                continue;
            Py_ssize_t t = hv[j];
            while (mark_after < m && mk[mark_after] <= t)
                mark_after++;
            /* before it, walking back (marks skipped, halves read as their two words) */
            Py_ssize_t before = 0, o = t - 1, mi = mark_after - 1, hj = j - 1;
            uint64_t back[16];
            while (before < k - 1 && o >= 0) {
                while (mi >= 0 && mk[mi] > o)
                    mi--;
                if (mi >= 0 && mk[mi] == o) {
                    o--;
                    continue;
                }
                while (hj >= 0 && hv[hj] > o)
                    hj--;
                if (hj >= 0 && hv[hj] == o) {
                    back[before++] = w2 ? w2[hj] : w1[hj];
                    if (w2 && before < k - 1)
                        back[before++] = w1[hj];
                } else {
                    back[before++] = v[o];
                }
                o--;
            }
            Py_ssize_t len = 0;
            for (Py_ssize_t i = before - 1; i >= 0; i--)
                seq[len++] = back[i];
            seq[len++] = w1[j];
            if (w2)
                seq[len++] = w2[j];
            /* after it */
            Py_ssize_t after = 0, ma = mark_after, ha = j + 1, wide = asked != NULL && asked[j] == 2 ? k - 1 : 0;
            for (o = t + 1; after < k - 1 + wide && o < n; o++) {
                while (ma < m && mk[ma] < o)
                    ma++;
                if (ma < m && mk[ma] == o)
                    continue;
                while (ha < nh && hv[ha] < o)
                    ha++;
                if (ha < nh && hv[ha] == o) {
                    seq[len++] = w1[ha];
                    after++;
                    if (w2 && after < k - 1 + wide) {
                        seq[len++] = w2[ha];
                        after++;
                    }
                } else {
                    seq[len++] = v[o];
                    after++;
                }
            }
            /* the windows that hold one of its words: starting k - 1 before the first to at the last (and
             * the k - 1 after those, wide) */
            for (Py_ssize_t st = before - (k - 1) > 0 ? before - (k - 1) : 0;
                 st <= before + two + wide && st + k <= len && !failed; st++) {
                uint64_t h = seq[st];
                for (Py_ssize_t i = 1; i < k; i++)
                    h = h * (uint64_t)mix + seq[st + i];
                failed = !gap_add(&out, j, fmix64(h));
            }
        }
        if (!failed && !gap_flush(&out))
            failed = 1;
        Py_END_ALLOW_THREADS
    }
    release_all(want, wanted);
    return gap_result(&out, failed, ok, "halves and marks: ascending token indices inside the text, a first and a "
                      "second word for each half (and a probe flag), 2 <= k <= 16 and bitmaps of a byte or more "
                      "expected");
}

/* A multimap of uint64 keys to int32 values in two arrays of a power-of-two size, `keys` (0: an
 * empty slot) and `values`: home slot from the top bits of the key mixed (fmix64: winnowed
 * fingerprints, the minima of their windows, are far from uniform), linear probing; a key may be there
 * with several values (registry.PendingFingerprints: fingerprint -> the pending documents that
 * hold it). multimap_add puts in each (new_keys[i], new_values[i]) whose key is not 0; the
 * caller keeps the map at most half full. */
static PyObject *multimap_add(PyObject *self, PyObject *args) {
    PyObject *o_keys, *o_values, *o_new_keys, *o_new_values;
    if (!PyArg_ParseTuple(args, "OOOO", &o_keys, &o_values, &o_new_keys, &o_new_values))
        return NULL;
    Py_buffer keys, values, new_keys, new_values;
    Want want[] = {{o_keys, &keys, 8, 1, "keys"}, {o_values, &values, 4, 1, "values"},
                   {o_new_keys, &new_keys, 8, 0, "new_keys"}, {o_new_values, &new_values, 4, 0, "new_values"}};
    if (get_all(want, 4) < 0)
        return NULL;
    Py_ssize_t size = keys.len / 8, m = new_keys.len / 8;
    int bits = log2_floor(size);
    int ok = size > 1 && ((Py_ssize_t)1 << bits) == size && values.len / 4 == size && new_values.len / 4 == m;
    if (ok) {
        uint64_t *k = keys.buf, mask = (uint64_t)size - 1;
        int32_t *v = values.buf;
        const uint64_t *nk = new_keys.buf;
        const int32_t *nv = new_values.buf;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; ok && i < m; i++) {
            if (nk[i] == 0)
                continue;
            if ((i & 15) == 0)  /* the home slots of the next keys, fetched ahead: each is a cache miss */
                for (Py_ssize_t j = i == 0 ? 0 : i + 16; j < i + 32 && j < m; j++) {
                    uint64_t ahead = fmix64(nk[j]) >> (64 - bits);
                    PREFETCH(&k[ahead], 1);
                    PREFETCH(&v[ahead], 1);
                }
            uint64_t at = fmix64(nk[i]) >> (64 - bits);  /* winnowed fingerprints are small: mixed first */
            Py_ssize_t probes = 0;
            while (k[at] != 0 && ++probes < size)
                at = (at + 1) & mask;
            if (k[at] != 0) {  /* full: the caller grows it first */
                ok = 0;
                break;
            }
            k[at] = nk[i];
            v[at] = nv[i];
        }
        Py_END_ALLOW_THREADS
    }
    return done(want, 4, ok, "a map of a power-of-two size with room for the new keys expected");
}

/* For the distinct uint64 `queries`, how many of them each value holds in the multimap:
 * (values int64, counts int64) as bytes, values ascending. `scratch` (int32, one zeroed entry
 * per possible value) is left zeroed. With `add` (a value, not negative), each query is then
 * put in the map with that value, in the empty slot its walk ended on (one walk for both: the
 * slots are cache misses); the caller keeps the map at most half full. */
static PyObject *multimap_count(PyObject *self, PyObject *args) {
    PyObject *o_keys, *o_values, *o_queries, *o_scratch;
    int add = -1;
    if (!PyArg_ParseTuple(args, "OOOO|i", &o_keys, &o_values, &o_queries, &o_scratch, &add))
        return NULL;
    Py_buffer keys, values, queries, scratch;
    Want want[] = {{o_keys, &keys, 8, add >= 0, "keys"}, {o_values, &values, 4, add >= 0, "values"},
                   {o_queries, &queries, 8, 0, "queries"}, {o_scratch, &scratch, 4, 1, "scratch"}};
    if (get_all(want, 4) < 0)
        return NULL;
    Py_ssize_t size = keys.len / 8, m = queries.len / 8, slots = scratch.len / 4, count = 0, cap = 64;
    int bits = log2_floor(size);
    int ok = size > 1 && ((Py_ssize_t)1 << bits) == size && values.len / 4 == size, failed = 0;
    int64_t *seen = PyMem_RawMalloc(cap * sizeof(int64_t));
    failed = seen == NULL;
    if (ok && !failed) {
        uint64_t *k = keys.buf, mask = (uint64_t)size - 1;
        const uint64_t *q = queries.buf;
        int32_t *v = values.buf;
        int32_t *c = scratch.buf;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < m && ok && !failed; i++) {
            if (q[i] == 0)
                continue;
            if ((i & 15) == 0)  /* the home slots of the next keys, fetched ahead */
                for (Py_ssize_t j = i == 0 ? 0 : i + 16; j < i + 32 && j < m; j++) {
                    uint64_t ahead = fmix64(q[j]) >> (64 - bits);
                    PREFETCH(&k[ahead], 1);
                    if (add >= 0)
                        PREFETCH(&v[ahead], 1);
                }
            Py_ssize_t probes = 0;
            uint64_t at = fmix64(q[i]) >> (64 - bits);
            for (; k[at] != 0 && probes++ < size; at = (at + 1) & mask) {
                if (k[at] != q[i])
                    continue;
                int32_t d = v[at];
                if (d < 0 || d >= slots) {
                    ok = 0;
                    break;
                }
                if (c[d]++ == 0 && !push(&seen, &count, &cap, d)) {
                    c[d] = 0;  /* not listed, so not reset below */
                    failed = 1;
                    break;
                }
            }
            if (add >= 0 && ok && !failed) {
                if (k[at] != 0) {  /* full: the caller grows it first */
                    ok = 0;
                    break;
                }
                k[at] = q[i];
                v[at] = add;
            }
        }
        if (count > 1)
            qsort(seen, (size_t)count, sizeof(int64_t), compare_offsets);
        Py_END_ALLOW_THREADS
    }
    PyObject *result = NULL;
    if (!failed && ok) {
        int64_t *counts = PyMem_RawMalloc((count + 1) * sizeof(int64_t));
        if (counts == NULL)
            failed = 1;
        else {
            int32_t *c = scratch.buf;
            for (Py_ssize_t i = 0; i < count; i++)
                counts[i] = c[seen[i]];
            result = listed(0, 1, NULL, seen, count, counts, count);
            PyMem_RawFree(counts);
        }
    }
    if (scratch.buf != NULL && seen != NULL)  /* left zeroed for the next call */
        for (Py_ssize_t i = 0; i < count; i++)
            ((int32_t *)scratch.buf)[seen[i]] = 0;
    release_all(want, 4);
    PyMem_RawFree(seen);
    if (failed)
        return PyErr_NoMemory();
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "a map of a power-of-two size (with room for the queries, to add them), "
                                          "and a scratch entry for every value in it, expected");
        return NULL;
    }
    return result;
}


/* fingerprint.table.lookup as one array: for each uint64 query, the 8-byte payload of its slot
 * in the open-addressing table `slots` / `payload` (home slot from the top bits, linear
 * probing, 0 empty), or `missing` where it is not there (a query of 0 never is). Into `out`. */
static PyObject *table_find(PyObject *self, PyObject *args) {
    PyObject *o_slots, *o_payload, *o_queries, *o_out;
    long long missing;
    if (!PyArg_ParseTuple(args, "OOOOL", &o_slots, &o_payload, &o_queries, &o_out, &missing))
        return NULL;
    Py_buffer slots, payload, queries, out;
    Want want[] = {{o_slots, &slots, 8, 0, "slots"}, {o_payload, &payload, 8, 0, "payload"},
                   {o_queries, &queries, 8, 0, "queries"}, {o_out, &out, 8, 1, "out"}};
    if (get_all(want, 4) < 0)
        return NULL;
    Py_ssize_t m = queries.len / 8, size = slots.len / 8;
    int bits = log2_floor(size);
    int ok = size > 0 && ((Py_ssize_t)1 << bits) == size && bits > 0 && payload.len == slots.len && out.len == queries.len;
    if (ok) {
        const uint64_t *k = slots.buf, *q = queries.buf;
        const int64_t *pay = payload.buf;
        int64_t *o = out.buf;
        uint64_t mask = (uint64_t)size - 1;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < m; i++) {
            uint64_t x = q[i];
            int64_t found = missing;
            if (x != 0)
                for (uint64_t at = x >> (64 - bits);; at = (at + 1) & mask) {
                    if (k[at] == x) {
                        found = pay[at];
                        break;
                    }
                    if (k[at] == 0)
                        break;
                }
            o[i] = found;
        }
        Py_END_ALLOW_THREADS
    }
    return done(want, 4, ok, "a table of a power-of-two size, a payload per slot and an output per query expected");
}


/* numpy.searchsorted(sorted, queries, side) for uint64 arrays, galloping from the previous
 * answer when the queries come in ascending order (a binary search over the whole array
 * otherwise): sorted queries a few dozen entries apart cost a few steps each, near each other
 * in memory, instead of twenty-odd cache misses. `right`: 0 for side="left", 1 for "right".
 * With `sample` (every `step`-th entry of `sorted`, small enough to stay in the cache), the
 * galloping is done on the sample and only the block of `step` entries the answer lies in is
 * read from `sorted`: one or two cache misses per query instead of a chain of them, and the
 * blocks of successive queries are read independently, so their misses overlap.
 * Writes the answers (int64) into `out`. */
static inline int before(uint64_t value, uint64_t x, int right) { return right ? value <= x : value < x; }

/* The first index in [lo, hi] of `a` whose value is not `before` x (binary search). */
static Py_ssize_t bisect(const uint64_t *a, Py_ssize_t lo, Py_ssize_t hi, uint64_t x, int right) {
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (before(a[mid], x, right))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The first index in [lo, n] of `a` whose value is not `before` x, galloping from lo. */
static Py_ssize_t gallop(const uint64_t *a, Py_ssize_t n, Py_ssize_t lo, uint64_t x, int right) {
    Py_ssize_t hi = lo, step = 1;
    while (hi < n && before(a[hi], x, right)) {  /* lo..hi brackets it */
        lo = hi + 1;
        hi += step;
        step *= 2;
    }
    return bisect(a, lo, hi > n ? n : hi, x, right);
}

static PyObject *search_sorted(PyObject *self, PyObject *args) {
    PyObject *o_sorted, *o_queries, *o_out, *o_sample = Py_None;
    int right;
    Py_ssize_t step = 0;
    if (!PyArg_ParseTuple(args, "OOOp|On", &o_sorted, &o_queries, &o_out, &right, &o_sample, &step))
        return NULL;
    Py_buffer sorted, queries, out, sample;
    int sampled = o_sample != Py_None;
    Want want[] = {{o_sorted, &sorted, 8, 0, "sorted"}, {o_queries, &queries, 8, 0, "queries"},
                   {o_out, &out, 8, 1, "out"}, {o_sample, &sample, 8, 0, "sample"}};
    if (get_all(want, sampled ? 4 : 3) < 0)
        return NULL;
    Py_ssize_t n = sorted.len / 8, m = queries.len / 8, ns = sampled ? sample.len / 8 : 0;
    int ok = out.len == queries.len && (!sampled || (step >= 1 && ns == (n + step - 1) / step));
    if (ok) {
        const uint64_t *a = sorted.buf, *q = queries.buf, *sa = sampled ? sample.buf : NULL;
        int64_t *o = out.buf;
        Py_BEGIN_ALLOW_THREADS
        Py_ssize_t lo = 0;
        uint64_t last = 0;
        for (Py_ssize_t i = 0; i < m; i++) {
            uint64_t x = q[i];
            if (i == 0 || x < last)
                lo = 0;  /* not ascending: search from the start */
            last = x;
            if (!sampled) {
                lo = gallop(a, n, lo, x, right);
                o[i] = lo;
                continue;
            }
            /* lo: in the sample. Its entry j is a[j * step]: the first j not before x puts the
             * answer after entry (j - 1) * step (which is before x) and at j * step at most. */
            lo = gallop(sa, ns, lo, x, right);
            o[i] = lo;
        }
        if (sampled)  /* then each block, the one `ahead` queries on asked for early: misses overlap */
            for (Py_ssize_t i = 0; i < m; i++) {
                enum { ahead = 32 };
                if (i + ahead < m) {
                    Py_ssize_t j = o[i + ahead], first = j > 0 ? (j - 1) * step + 1 : 0, last = j * step;
                    PREFETCH(a + (first < n ? first : n - 1), 0);  /* (a block spans two or three lines) */
                    PREFETCH(a + ((first + last) / 2 < n ? (first + last) / 2 : n - 1), 0);
                    PREFETCH(a + (last < n ? last : n - 1), 0);
                }
                Py_ssize_t j = o[i];
                o[i] = bisect(a, j > 0 ? (j - 1) * step + 1 : 0, j * step < n ? j * step : n, q[i], right);
            }
        Py_END_ALLOW_THREADS
    }
    return done(want, sampled ? 4 : 3, ok, "out: one answer per query; sample: every step-th entry");
}


/* fingerprint.bitmap.probe: for each uint64 query, whether the bit of its top `bits` bits is
 * set in `bitmap` (bits = floor(log2(8 * its length in bytes))), written into `out` (one byte
 * each, 0 or 1, as NumPy stores booleans). */
static PyObject *probe(PyObject *self, PyObject *args) {
    PyObject *o_bitmap, *o_queries, *o_out;
    if (!PyArg_ParseTuple(args, "OOO", &o_bitmap, &o_queries, &o_out))
        return NULL;
    Py_buffer bitmap, queries, out;
    Want want[] = {{o_bitmap, &bitmap, 1, 0, "bitmap"}, {o_queries, &queries, 8, 0, "queries"},
                   {o_out, &out, 1, 1, "out"}};
    if (get_all(want, 3) < 0)
        return NULL;
    Py_ssize_t m = queries.len / 8, nbits = bitmap.len * 8;
    int bits = log2_floor(nbits);
    int ok = out.len == m && bits > 0 && bits < 64;
    if (ok) {
        const uint8_t *b = bitmap.buf;
        const uint64_t *q = queries.buf;
        uint8_t *o = out.buf;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < m; i++) {
            if (i + AHEAD < m)  /* a bitmap of megabytes is seldom cached: its bytes asked for early */
                PREFETCH(b + ((q[i + AHEAD] >> (64 - bits)) >> 3), 0);
            uint64_t slot = q[i] >> (64 - bits);
            o[i] = bit_at(b, slot);
        }
        Py_END_ALLOW_THREADS
    }
    return done(want, 3, ok, "out: one byte per query; bitmap: at least one byte");
}


/* normalise.Tokens.blank_cuts: the pairs of tokens (i, i + 1) that may be one word cut in two by
 * blanks (``mole cular``): their key (spacing.pair_key) in `pairs`, a bitmap with two bits set for
 * the key of every word of the table cut in two (tested first, on every pair: it lets one in a
 * hundred through); up to CUT_BLANKS blanks between them (spaces, tabs, line and page breaks:
 * the normaliser reads every other blank as a space), one of them a mark of punctuation at most;
 * one of them no common word (its bit clear in `common`); both of a-z only, MAX_JOINED letters at
 * most together; and their letters joined
 * hashed (as a token with them hashes) in `words`. Returns (first tokens as int64 bytes, those
 * hashes as uint64 bytes): the caller looks the hashes up in the table itself. */
#define MAX_JOINED 64  /* normalise.CUT_MAX_LETTERS */
#define PAIR_MIX 0x9E3779B97F4A7C15ULL  /* spacing.PAIR_MIX */
#define PAIR_LOW 8  /* spacing.PAIR_LOW */
#define CUT_BLOCK 8192  /* pairs of tokens read at a time */
#define CUT_AHEAD 16  /* pairs ahead whose bits are asked for */
#define CUT_BLANKS 3  /* normalise.CUT_BLANKS */
/* Whether norm[from:to] is blanks, with one mark of punctuation among them at most (``mole cular``,
 * ``mole  cular``, ``mole- cular``, ``mole . cular``): normalise._cut_gap. */
static inline int cut_gap(const void *norm, int width, Py_ssize_t from, Py_ssize_t to) {
    int blanks = 0, marks = 0;
    for (Py_ssize_t i = from; i < to; i++) {
        uint32_t c = code_at(norm, width, i);
        if (c == ' ' || (c >= '\t' && c <= '\r') || c == 0x85 || c == 0x2028 || c == 0x2029)
            blanks++;
        else if (c == '-' || c == '.' || c == ',' || c == '\'' || c == '"' || c == '(' || c == ')' || c == ':'
                 || c == ';' || c == '/' || (c >= 0x2010 && c <= 0x2015) || (c >= 0x2018 && c <= 0x201D))
            marks++;
        else
            return 0;
    }
    return blanks > 0 && marks <= 1;
}

static inline int all_small(const void *norm, int width, Py_ssize_t from, Py_ssize_t to) {
    for (Py_ssize_t i = from; i < to; i++)
        if ((uint32_t)(code_at(norm, width, i) - 'a') >= 26)
            return 0;
    return 1;
}

static PyObject *blank_cuts(PyObject *self, PyObject *args) {
    PyObject *o_norm, *o_starts, *o_ends, *o_hashes, *o_common, *o_pairs, *o_words;
    if (!PyArg_ParseTuple(args, "OOOOOOO", &o_norm, &o_starts, &o_ends, &o_hashes, &o_common, &o_pairs, &o_words))
        return NULL;
    Py_buffer norm, starts, ends, hashes, common, pairs, words;
    Want want[] = {{o_norm, &norm, 0, 0, "norm"}, {o_starts, &starts, 8, 0, "starts"}, {o_ends, &ends, 8, 0, "ends"},
                   {o_hashes, &hashes, 8, 0, "hashes"}, {o_common, &common, 1, 0, "common"},
                   {o_pairs, &pairs, 1, 0, "pairs"}, {o_words, &words, 1, 0, "words"}};
    if (get_all(want, 7) < 0 || !code_points(want, 7))
        return NULL;
    int width = (int)norm.itemsize, common_bits = log2_floor(common.len * 8), pair_bits = log2_floor(pairs.len * 8);
    int word_bits = log2_floor(words.len * 8);
    Py_ssize_t n = norm.len / width, m = starts.len / 8, count = 0, cap = 64, cap_joins = 64;
    int ok = ends.len == starts.len && hashes.len == starts.len && common_bits > 0 && common_bits < 64
             && pair_bits > 0 && pair_bits < 64 && word_bits > 0 && word_bits < 64, failed = 0;
    int64_t *firsts = PyMem_RawMalloc(cap * sizeof(int64_t)), *joins = PyMem_RawMalloc(cap * sizeof(int64_t));
    failed = firsts == NULL || joins == NULL;
    if (ok && !failed) {
        const int64_t *s = starts.buf, *e = ends.buf;
        const uint64_t *h = hashes.buf;
        const uint8_t *common_map = common.buf, *pair_map = pairs.buf, *word_map = words.buf;
        Py_BEGIN_ALLOW_THREADS
        /* a block of pairs at a time: first those whose key is set, listed without a branch, then
         * the other tests on those only */
        Py_ssize_t cand[CUT_BLOCK];
        for (Py_ssize_t block = 0; block + 1 < m && ok && !failed; block += CUT_BLOCK) {
            Py_ssize_t last = block + CUT_BLOCK < m - 1 ? block + CUT_BLOCK : m - 1, listed = 0;
            for (Py_ssize_t i = block; i < last; i++) {  /* (two bits a key: spacing.pair_bits) */
                if (i + CUT_AHEAD < last) {  /* (the bitmap is megabytes, seldom cached: asked for early) */
                    uint64_t ahead = h[i + CUT_AHEAD] ^ (h[i + CUT_AHEAD + 1] * PAIR_MIX);
                    PREFETCH(pair_map + ((ahead >> (64 - pair_bits)) >> 3), 0);
                    PREFETCH(pair_map + (((ahead >> PAIR_LOW) & (((uint64_t)1 << pair_bits) - 1)) >> 3), 0);
                }
                uint64_t key = h[i] ^ (h[i + 1] * PAIR_MIX);
                cand[listed] = i;
                listed += bit_at(pair_map, key >> (64 - pair_bits))
                          & bit_at(pair_map, (key >> PAIR_LOW) & (((uint64_t)1 << pair_bits) - 1));
            }
            /* the few listed are far apart: their bounds, then their text, asked for all at once (one
             * by one, each waited for memory: the pass took twice as long on arrays not yet cached) */
            for (Py_ssize_t k = 0; k < listed; k++) {
                PREFETCH(s + cand[k], 0);
                PREFETCH(e + cand[k] + 1, 0);
            }
            for (Py_ssize_t k = 0; k < listed; k++)
                PREFETCH((const char *)norm.buf + e[cand[k]] * width, 0);
            for (Py_ssize_t k = 0; k < listed; k++) {
                Py_ssize_t i = cand[k];
                if (bit_at(common_map, h[i] >> (64 - common_bits))
                        && bit_at(common_map, h[i + 1] >> (64 - common_bits)))
                    continue;
                if (s[i] < 0 || e[i] < s[i] || e[i + 1] > n || e[i + 1] < s[i + 1]) {
                    ok = 0;
                    break;
                }
                Py_ssize_t a = e[i] - s[i], b = e[i + 1] - s[i + 1], gap = s[i + 1] - e[i];
                if (a + b > MAX_JOINED || gap < 1 || gap > CUT_BLANKS || !cut_gap(norm.buf, width, e[i], s[i + 1]))
                    continue;
                if (!all_small(norm.buf, width, s[i], e[i]) || !all_small(norm.buf, width, s[i + 1], e[i + 1]))
                    continue;
                uint8_t word[MAX_JOINED];
                for (Py_ssize_t j = 0; j < a; j++)
                    word[j] = (uint8_t)code_at(norm.buf, width, s[i] + j);
                for (Py_ssize_t j = 0; j < b; j++)
                    word[a + j] = (uint8_t)code_at(norm.buf, width, s[i + 1] + j);
                uint64_t v = ascii_hash(word, a + b, 0, a + b);
                if (!bit_at(word_map, v >> (64 - word_bits)))
                    continue;
                Py_ssize_t pushed = count;
                if (!push(&firsts, &count, &cap, i) || !push(&joins, &pushed, &cap_joins, (int64_t)v)) {
                    failed = 1;
                    break;
                }
            }
        }
        Py_END_ALLOW_THREADS
    }
    release_all(want, 7);
    PyObject *result = listed(failed, ok, "token bounds do not fit the text or each other", firsts, count, joins,
                              count);
    PyMem_RawFree(firsts);
    PyMem_RawFree(joins);
    return result;
}

/* fingerprint.shingles.shingles: for every window of k consecutive uint64 values, the
 * polynomial h = v0, h = h * MIX + v_j (mod 2**64) over the window, then fmix64; into `out`
 * (len(values) - k + 1 entries). */
static PyObject *shingles(PyObject *self, PyObject *args) {
    PyObject *o_values, *o_out;
    Py_ssize_t k;
    unsigned long long mix;
    if (!PyArg_ParseTuple(args, "OOnK", &o_values, &o_out, &k, &mix))
        return NULL;
    Py_buffer values, out;
    Want want[] = {{o_values, &values, 8, 0, "values"}, {o_out, &out, 8, 1, "out"}};
    if (get_all(want, 2) < 0)
        return NULL;
    Py_ssize_t n = values.len / 8, m = n - k + 1;
    int ok = k >= 1 && m >= 1 && out.len / 8 == m;
    if (ok) {
        const uint64_t *v = values.buf;
        uint64_t *o = out.buf;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < m; i++) {
            uint64_t h = v[i];
            for (Py_ssize_t j = 1; j < k; j++)
                h = h * (uint64_t)mix + v[i + j];
            o[i] = fmix64(h);
        }
        Py_END_ALLOW_THREADS
    }
    return done(want, 2, ok, "out: one entry per window of k values expected");
}


/* The gathers of fingerprint.keyed.Keyer.cached: for each uint64 hash h, slot = h & mask;
 * where keys[slot] == h, out = values[slot]; elsewhere out is left as it is. Returns the
 * indices of the misses (int64, as bytes). */
static PyObject *cache_gather(PyObject *self, PyObject *args) {
    PyObject *o_hashes, *o_keys, *o_values, *o_out;
    if (!PyArg_ParseTuple(args, "OOOO", &o_hashes, &o_keys, &o_values, &o_out))
        return NULL;
    Py_buffer hashes, keys, values, out;
    Want want[] = {{o_hashes, &hashes, 8, 0, "hashes"}, {o_keys, &keys, 8, 0, "keys"},
                   {o_values, &values, 8, 0, "values"}, {o_out, &out, 8, 1, "out"}};
    if (get_all(want, 4) < 0)
        return NULL;
    Py_ssize_t m = hashes.len / 8, size = keys.len / 8, count = 0, cap = 64;
    int ok = out.len == hashes.len && values.len == keys.len && size > 0 && (size & (size - 1)) == 0, failed = 0;
    int64_t *missed = PyMem_RawMalloc(cap * sizeof(int64_t));
    if (missed == NULL)
        failed = 1;
    if (ok && !failed) {
        const uint64_t *h = hashes.buf, *k = keys.buf, *v = values.buf;
        uint64_t *o = out.buf, mask = (uint64_t)size - 1;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < m; i++) {
            if (i + AHEAD < m) {  /* the cache is megabytes: its slots asked for early */
                PREFETCH(k + (h[i + AHEAD] & mask), 0);
                PREFETCH(v + (h[i + AHEAD] & mask), 0);
            }
            uint64_t slot = h[i] & mask;
            if (k[slot] == h[i])
                o[i] = v[slot];
            else if (!push(&missed, &count, &cap, i)) {
                failed = 1;
                break;
            }
        }
        Py_END_ALLOW_THREADS
    }
    release_all(want, 4);
    PyObject *result = listed(failed, ok, "a cache of a power-of-two size and one output per hash expected", missed,
                              count, NULL, 0);
    PyMem_RawFree(missed);
    return result;
}


static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* What fingerprint.rewrite.pairs keeps of `v` (n values: sentence << 40 | packed lemma key, in
 * sentence order, any order within a sentence), in place: each sentence's run sorted, each
 * distinct value once, a sentence's first `top`. Returns how many are kept; *pairs: how many
 * pairs they make. */
static Py_ssize_t rarest_per_sentence(uint64_t *v, Py_ssize_t n, Py_ssize_t top, Py_ssize_t *pairs) {
    Py_ssize_t kept = 0, total = 0;
    for (Py_ssize_t lo = 0, hi; lo < n; lo = hi) {  /* each sentence's run, sorted */
        for (hi = lo + 1; hi < n && (v[hi] >> 40) == (v[lo] >> 40); hi++)
            ;
        if (hi - lo > 128) {  /* (a sentence is cut in pieces of 80 tokens: not in practice) */
            qsort(v + lo, hi - lo, sizeof(uint64_t), compare_u64);
            continue;
        }
        for (Py_ssize_t i = lo + 1; i < hi; i++) {  /* insertion sort: runs are short (glibc's qsort allocates) */
            uint64_t x = v[i];
            Py_ssize_t j = i;
            for (; j > lo && v[j - 1] > x; j--)
                v[j] = v[j - 1];
            v[j] = x;
        }
    }
    Py_ssize_t rank = 0;
    for (Py_ssize_t i = 0; i < n; i++) {  /* kept in place: each distinct value once, a sentence's first `top` */
        if (i > 0 && v[i] == v[i - 1])
            continue;
        /* the rank among the sentence's distinct values (its first `top` are kept, so the last
         * kept value is of this sentence whenever this is not its first) */
        rank = (kept > 0 && (v[kept - 1] >> 40) == (v[i] >> 40)) ? rank + 1 : 0;
        if (rank >= top)
            continue;
        v[kept++] = v[i];
        total += rank;  /* pairs with the values kept before it in its sentence */
    }
    *pairs = total;
    return kept;
}

/* fingerprint.rewrite.pairs after its sort: `full` holds (sentence << 40 | packed lemma key)
 * in sentence order; the values of one sentence may come in any order (each sentence's run is
 * sorted here, a few dozen values, instead of one sort of them all). Each distinct value once;
 * per sentence the first `top` (its rarest lemmas); then, sentence by sentence, for each distance
 * d = 1 .. top - 1 in turn and each position in order, the pair of the lemmas d apart:
 * fmix64(smaller << 32 | larger) of their low 32 bits, and the sentence. (hashes uint64,
 * sentences int64) as bytes. */
static PyObject *lemma_pairs(PyObject *self, PyObject *args) {
    PyObject *o_full;
    Py_ssize_t top;
    if (!PyArg_ParseTuple(args, "On", &o_full, &top))
        return NULL;
    Py_buffer full;
    if (get(o_full, &full, 8, 0, "full") < 0)
        return NULL;
    Py_ssize_t n = full.len / 8, kept = 0, total = 0;
    uint64_t *v = PyMem_RawMalloc((n + 1) * sizeof(uint64_t));  /* sorted, then the kept values */
    if (v == NULL) {
        PyBuffer_Release(&full);
        return PyErr_NoMemory();
    }
    memcpy(v, full.buf, n * sizeof(uint64_t));
    PyBuffer_Release(&full);
    Py_BEGIN_ALLOW_THREADS
    kept = rarest_per_sentence(v, n, top, &total);
    Py_END_ALLOW_THREADS
    PyObject *o_hashes = PyBytes_FromStringAndSize(NULL, total * 8), *o_owners = PyBytes_FromStringAndSize(NULL, total * 8);
    if (o_hashes == NULL || o_owners == NULL) {
        Py_XDECREF(o_hashes);
        Py_XDECREF(o_owners);
        PyMem_RawFree(v);
        return NULL;
    }
    uint64_t *hashes = (uint64_t *)PyBytes_AS_STRING(o_hashes);
    int64_t *owners = (int64_t *)PyBytes_AS_STRING(o_owners);
    Py_ssize_t count = 0;
    Py_BEGIN_ALLOW_THREADS
#define PAIR(i, j) do { \
        uint64_t a = v[i] & 0xFFFFFFFFULL, b = v[j] & 0xFFFFFFFFULL; \
        hashes[count] = fmix64(((a < b ? a : b) << 32) | (a < b ? b : a)); \
        owners[count++] = (int64_t)(v[i] >> 40); \
    } while (0)
    for (Py_ssize_t lo = 0, hi; lo < kept; lo = hi) {
        for (hi = lo + 1; hi < kept && (v[hi] >> 40) == (v[lo] >> 40); hi++)
            ;
        for (Py_ssize_t d = 1; d < hi - lo; d++)
            for (Py_ssize_t i = lo; i + d < hi; i++)
                PAIR(i, i + d);
    }
#undef PAIR
    Py_END_ALLOW_THREADS
    PyMem_RawFree(v);
    return Py_BuildValue("(NN)", o_hashes, o_owners);
}

/* rewrite.RewriteDetector.candidates' first stage: the pairs `lemma_pairs` makes (by sentence),
 * each probed in every bitmap of `bitmaps` (a sequence of at most 64 uint8 buffers, bits as
 * fingerprint.bitmap.probe reads them); of the sentences where `min_pairs` pairs or more pass
 * some bitmap, the pairs that do. (hashes uint64, sentences int64, masks uint64: bit k set
 * when the pair passed bitmap k) as bytes. A sentence with fewer passing pairs cannot make a
 * candidate, and most pairs are in such sentences: they are never written out. */
static PyObject *pair_candidates(PyObject *self, PyObject *args) {
    PyObject *o_full, *o_bitmaps;
    Py_ssize_t top, min_pairs;
    if (!PyArg_ParseTuple(args, "OnOn", &o_full, &top, &o_bitmaps, &min_pairs))
        return NULL;
    PyObject *seq = PySequence_Fast(o_bitmaps, "bitmaps: a sequence expected");
    if (seq == NULL)
        return NULL;
    Py_ssize_t nb = PySequence_Fast_GET_SIZE(seq);
    if (nb > 64 || top < 1) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "at most 64 bitmaps, and top >= 1");
        return NULL;
    }
    Py_buffer views[64], full;
    int bits[64];
    Py_ssize_t got = 0;
    for (; got < nb; got++) {
        if (get(PySequence_Fast_GET_ITEM(seq, got), &views[got], 1, 0, "bitmap") < 0)
            break;
        bits[got] = log2_floor(views[got].len * 8);
        if (bits[got] < 1 || bits[got] > 63) {
            PyBuffer_Release(&views[got]);
            PyErr_SetString(PyExc_ValueError, "bitmap: at least one byte");
            break;
        }
    }
    int ok = got == nb && get(o_full, &full, 8, 0, "full") == 0;
    uint64_t *v = NULL, *hashes = NULL, *masks = NULL, *local = NULL, *local_mask = NULL;
    int64_t *sentences = NULL, *sentence_end = NULL, *sentence_of = NULL;
    Py_ssize_t n = 0, count = 0, cap = 0, most = top * (top - 1) / 2 + 1;
    Py_ssize_t room = most > (1 << 13) ? most : (1 << 13);  /* pairs probed at a time: a sentence's fit */
    if (ok) {
        n = full.len / 8;
        cap = 1024;
        v = PyMem_RawMalloc((n + 1) * sizeof(uint64_t));
        hashes = PyMem_RawMalloc(cap * sizeof(uint64_t));
        masks = PyMem_RawMalloc(cap * sizeof(uint64_t));
        sentences = PyMem_RawMalloc(cap * sizeof(int64_t));
        local = PyMem_RawMalloc(room * sizeof(uint64_t));
        local_mask = PyMem_RawMalloc(room * sizeof(uint64_t));
        sentence_end = PyMem_RawMalloc(room * sizeof(int64_t));
        sentence_of = PyMem_RawMalloc(room * sizeof(int64_t));
        if (v != NULL)
            memcpy(v, full.buf, n * sizeof(uint64_t));
        PyBuffer_Release(&full);
        if (!v || !hashes || !masks || !sentences || !local || !local_mask || !sentence_end || !sentence_of) {
            ok = 0;
            PyErr_NoMemory();
        }
    }
    int failed = 0;
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        Py_ssize_t total, kept = rarest_per_sentence(v, n, top, &total);
        /* a batch of sentences' pairs at a time: made, then probed in one tight loop (independent
         * loads in flight together: the bitmaps are larger than the cache), then kept or not */
        for (Py_ssize_t lo = 0; lo < kept && !failed;) {
            Py_ssize_t made = 0, ends = 0;
            while (lo < kept && made + most <= room && ends < room) {  /* (a sentence of one lemma makes no pair) */
                Py_ssize_t hi = lo + 1;
                while (hi < kept && (v[hi] >> 40) == (v[lo] >> 40))
                    hi++;
                for (Py_ssize_t d = 1; d < hi - lo; d++)
                    for (Py_ssize_t i = lo; i + d < hi; i++) {
                        uint64_t x = v[i] & 0xFFFFFFFFULL, y = v[i + d] & 0xFFFFFFFFULL;
                        local[made++] = fmix64(((x < y ? x : y) << 32) | (x < y ? y : x));
                    }
                sentence_end[ends] = made;
                sentence_of[ends++] = (int64_t)(v[lo] >> 40);
                lo = hi;
            }
            for (Py_ssize_t j = 0; j < made; j++)
                local_mask[j] = 0;
            for (Py_ssize_t k = 0; k < nb; k++) {
                const uint8_t *map = views[k].buf;
                int shift = 64 - bits[k];
                for (Py_ssize_t j = 0; j < made; j++) {
                    if (j + AHEAD / 2 < made)
                        PREFETCH(map + ((local[j + AHEAD / 2] >> shift) >> 3), 0);
                    uint64_t slot = local[j] >> shift;
                    local_mask[j] |= (uint64_t)bit_at(map, slot) << k;
                }
            }
            for (Py_ssize_t e = 0, from = 0; e < ends && !failed; from = sentence_end[e++]) {
                Py_ssize_t to = sentence_end[e], passing = 0;
                for (Py_ssize_t j = from; j < to; j++)
                    passing += local_mask[j] != 0;
                if (passing < min_pairs)
                    continue;
                if (count + passing > cap) {
                    while (count + passing > cap)
                        cap *= 2;
                    uint64_t *h2 = PyMem_RawRealloc(hashes, cap * sizeof(uint64_t));
                    if (h2 != NULL)
                        hashes = h2;
                    uint64_t *m2 = PyMem_RawRealloc(masks, cap * sizeof(uint64_t));
                    if (m2 != NULL)
                        masks = m2;
                    int64_t *s2 = PyMem_RawRealloc(sentences, cap * sizeof(int64_t));
                    if (s2 != NULL)
                        sentences = s2;
                    if (h2 == NULL || m2 == NULL || s2 == NULL) {
                        failed = 1;
                        break;
                    }
                }
                for (Py_ssize_t j = from; j < to; j++)
                    if (local_mask[j]) {
                        hashes[count] = local[j];
                        masks[count] = local_mask[j];
                        sentences[count++] = sentence_of[e];
                    }
            }
        }
        Py_END_ALLOW_THREADS
    }
    for (Py_ssize_t k = 0; k < got; k++)
        PyBuffer_Release(&views[k]);
    Py_DECREF(seq);
    PyObject *result = NULL;
    if (ok && failed)
        PyErr_NoMemory();
    else if (ok)
        result = Py_BuildValue("(y#y#y#)", (const char *)hashes, count * 8, (const char *)sentences, count * 8,
                               (const char *)masks, count * 8);
    PyMem_RawFree(v);
    PyMem_RawFree(hashes);
    PyMem_RawFree(masks);
    PyMem_RawFree(sentences);
    PyMem_RawFree(local);
    PyMem_RawFree(local_mask);
    PyMem_RawFree(sentence_end);
    PyMem_RawFree(sentence_of);
    return result;
}


/* segments._families_per_run: how many distinct values each run values[ptr[r]:ptr[r + 1]]
 * holds (uint32 values below `bound`; ptr int64, ascending, ptr[0] = 0, last = len(values)),
 * into `out` (int64, one per run). One pass: a value counts when the run it was last seen in
 * (a table of `bound` entries, family numbers: it stays in the cache) is not this one; runs of
 * pair signatures are short (2.6 entries on average), so no sort of each, or of them all. */
static PyObject *distinct_per_run(PyObject *self, PyObject *args) {
    PyObject *o_ptr, *o_values, *o_out;
    Py_ssize_t bound;
    if (!PyArg_ParseTuple(args, "OOnO", &o_ptr, &o_values, &bound, &o_out))
        return NULL;
    Py_buffer ptr, values, out;
    Want want[] = {{o_ptr, &ptr, 8, 0, "ptr"}, {o_values, &values, 4, 0, "values"}, {o_out, &out, 8, 1, "out"}};
    if (get_all(want, 3) < 0)
        return NULL;
    Py_ssize_t runs = ptr.len / 8 - 1, n = values.len / 4;
    const int64_t *p = ptr.buf;
    const uint32_t *v = values.buf;
    int ok = runs >= 0 && out.len / 8 == runs && p[0] == 0 && p[runs] == n && bound >= 0;
    Py_ssize_t *last = ok ? PyMem_RawMalloc((size_t)(bound + 1) * sizeof(Py_ssize_t)) : NULL;
    int failed = ok && last == NULL;
    if (ok && !failed) {
        int64_t *o = out.buf;
        Py_BEGIN_ALLOW_THREADS  /* (the bounds and values checked on the way: a build thread holds no lock) */
        for (Py_ssize_t f = 0; f < bound; f++)
            last[f] = -1;
        for (Py_ssize_t r = 0; ok && r < runs; r++) {
            Py_ssize_t count = 0;
            ok = p[r] <= p[r + 1] && p[r + 1] <= n;
            for (Py_ssize_t i = p[r]; ok && i < p[r + 1]; i++) {
                ok = v[i] < (uint64_t)bound;
                count += ok && last[v[i]] != r;
                if (ok)
                    last[v[i]] = r;
            }
            o[r] = count;
        }
        Py_END_ALLOW_THREADS
    }
    PyMem_RawFree(last);
    release_all(want, 3);
    if (failed)
        return PyErr_NoMemory();
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "ptr: ascending run bounds from 0 to len(values); values below bound; "
                                          "out: one per run");
        return NULL;
    }
    Py_RETURN_NONE;
}


/* Buffers of a sequence of at most 64 objects (`get` each, `itemsize` bytes per item), into
 * views[]; their count, or -1 with an exception set (none held then). */
static Py_ssize_t get_sequence(PyObject *o, Py_buffer *views, Py_ssize_t itemsize, const char *what) {
    PyObject *seq = PySequence_Fast(o, "a sequence of buffers expected");
    if (seq == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq), got = 0;
    if (n > 64) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "at most 64 buffers");
        return -1;
    }
    for (; got < n; got++)
        if (get(PySequence_Fast_GET_ITEM(seq, got), &views[got], itemsize, 0, what) < 0)
            break;
    Py_DECREF(seq);
    if (got < n) {
        while (got-- > 0)
            PyBuffer_Release(&views[got]);
        return -1;
    }
    return n;
}

/* fingerprint.bitmap.probe of the same uint64 queries in several bitmaps, in one pass over the
 * queries: for each bitmap, the indices of the queries whose bit is set (int64, as bytes). A
 * registry of several segments probes every shingle of a part in each. */
static PyObject *probe_lists(PyObject *self, PyObject *args) {
    PyObject *o_bitmaps, *o_queries;
    if (!PyArg_ParseTuple(args, "OO", &o_bitmaps, &o_queries))
        return NULL;
    Py_buffer maps[64], queries;
    Py_ssize_t nb = get_sequence(o_bitmaps, maps, 1, "bitmap");
    if (nb < 0)
        return NULL;
    if (get(o_queries, &queries, 8, 0, "queries") < 0) {
        for (Py_ssize_t k = 0; k < nb; k++)
            PyBuffer_Release(&maps[k]);
        return NULL;
    }
    int bits[64], ok = 1, failed = 0;
    int64_t *lists[64] = {NULL};
    Py_ssize_t counts[64] = {0}, caps[64] = {0};
    for (Py_ssize_t k = 0; k < nb; k++) {
        bits[k] = log2_floor(maps[k].len * 8);
        ok = ok && bits[k] > 0 && bits[k] < 64;
        caps[k] = 1024;
        lists[k] = PyMem_RawMalloc(caps[k] * sizeof(int64_t));
        failed = failed || lists[k] == NULL;
    }
    if (ok && !failed) {
        const uint64_t *q = queries.buf;
        Py_ssize_t m = queries.len / 8;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < m && !failed; i++) {
            for (Py_ssize_t k = 0; k < nb; k++) {
                const uint8_t *b = maps[k].buf;
                if (i + AHEAD < m)
                    PREFETCH(b + ((q[i + AHEAD] >> (64 - bits[k])) >> 3), 0);
                uint64_t slot = q[i] >> (64 - bits[k]);
                if (bit_at(b, slot) && !push(&lists[k], &counts[k], &caps[k], i)) {
                    failed = 1;
                    break;
                }
            }
        }
        Py_END_ALLOW_THREADS
    }
    for (Py_ssize_t k = 0; k < nb; k++)
        PyBuffer_Release(&maps[k]);
    PyBuffer_Release(&queries);
    PyObject *result = NULL;
    if (failed)
        PyErr_NoMemory();
    else if (!ok)
        PyErr_SetString(PyExc_ValueError, "bitmap: at least one byte");
    else if ((result = PyTuple_New(nb)) != NULL)
        for (Py_ssize_t k = 0; k < nb; k++) {
            PyObject *listed_k = PyBytes_FromStringAndSize((const char *)lists[k], counts[k] * 8);
            if (listed_k == NULL) {
                Py_CLEAR(result);
                break;
            }
            PyTuple_SET_ITEM(result, k, listed_k);
        }
    for (Py_ssize_t k = 0; k < nb; k++)
        PyMem_RawFree(lists[k]);
    return result;
}


/* `rare_hits_many`'s pass over the tokens, a block at a time: first which segments' bitmaps
 * each token passes, without a branch (a quarter of the tokens of mail pass, at random: a
 * branch on it was mispredicted every few tokens), then the tables of those only, the first
 * segment that holds the token winning. Appends (position, payload) to *pos and *keys (grown
 * together, *count entries of *cap); 0 when out of memory. */
static ALWAYS_INLINE int rare_pass(const uint64_t *v, Py_ssize_t m, Py_ssize_t nb, const Py_buffer *maps,
                                   const int *map_bits, const Py_buffer *slots, const Py_buffer *payloads,
                                   const int *table_bits, const uint64_t *masks, int64_t **pos, Py_ssize_t *count,
                                   Py_ssize_t *cap, int64_t **keys) {
    enum { BLOCK = 1024 };
    int64_t passed[BLOCK];
    uint64_t which[BLOCK];
    for (Py_ssize_t from = 0; from < m; from += BLOCK) {
        Py_ssize_t to = from + BLOCK < m ? from + BLOCK : m, n_passed = 0;
        for (Py_ssize_t i = from; i < to; i++) {
            uint64_t mask = 0;
            for (Py_ssize_t k = 0; k < nb; k++) {
                uint64_t bit = v[i] >> (64 - map_bits[k]);
                mask |= (uint64_t)((((const uint8_t *)maps[k].buf)[bit >> 3] >> (bit & 7)) & 1) << k;
            }
            mask = v[i] != 0 ? mask : 0;
            passed[n_passed] = i;
            which[n_passed] = mask;
            n_passed += mask != 0;
        }
        for (Py_ssize_t j = 0; j < n_passed; j++) {
            uint64_t q = v[passed[j]];
            for (uint64_t mask = which[j]; mask; mask &= mask - 1) {
                int k = __builtin_ctzll(mask);
                const uint64_t *table = slots[k].buf, *pay = payloads[k].buf;
                uint64_t at = q >> (64 - table_bits[k]);
                while (table[at] != q && table[at] != 0)
                    at = (at + 1) & masks[k];
                if (table[at] != q)
                    continue;  /* not in this segment's table: the next segment that passed */
                Py_ssize_t n = *count, c = *cap;  /* (the two arrays grow together: one count, one capacity) */
                if (!push(pos, count, cap, passed[j]) || !push(keys, &n, &c, (Py_ssize_t)pay[at]))
                    return 0;
                break;
            }
        }
    }
    return 1;
}

/* The first step of the rewrite tier's candidates (detectors.rewrite.candidates), over the
 * segments of a registry (at most 64) in one pass over the tokens: the tokens whose keyed
 * value may be a word form of a registered rare lemma (its bit is set in a segment's bitmap,
 * as fingerprint.bitmap.probe reads it), looked up in that segment's open-addressing table
 * `slots` / `payload` (fingerprint.table.lookup: home slot from the top bits, linear probing,
 * 0 empty); for each token, the first segment (in the order given) whose table holds it, as
 * `distinct_first` of the segments' hits keeps it. (positions, payloads) as int64 bytes, in
 * token order. The terms detector finds the first tokens of terms the same way. */
static PyObject *rare_hits_many(PyObject *self, PyObject *args) {
    PyObject *o_values, *o_bitmaps, *o_slots, *o_payloads;
    if (!PyArg_ParseTuple(args, "OOOO", &o_values, &o_bitmaps, &o_slots, &o_payloads))
        return NULL;
    Py_buffer values, maps[64], slots[64], payloads[64];
    Py_ssize_t nb = -1, ns = -1, np_ = -1;
    if (get(o_values, &values, 8, 0, "values") < 0)
        return NULL;
    nb = get_sequence(o_bitmaps, maps, 1, "bitmap");
    if (nb >= 0)
        ns = get_sequence(o_slots, slots, 8, "slots");
    if (ns >= 0)
        np_ = get_sequence(o_payloads, payloads, 8, "payload");
    int ok = nb >= 0 && ns == nb && np_ == nb, failed = 0;
    int map_bits[64], table_bits[64];
    uint64_t masks[64];
    for (Py_ssize_t k = 0; ok && k < nb; k++) {
        Py_ssize_t size = slots[k].len / 8;
        map_bits[k] = log2_floor(maps[k].len * 8);
        table_bits[k] = log2_floor(size);
        masks[k] = (uint64_t)size - 1;
        ok = size > 0 && ((Py_ssize_t)1 << table_bits[k]) == size && payloads[k].len == slots[k].len
             && map_bits[k] > 0 && map_bits[k] < 64 && table_bits[k] > 0;
    }
    Py_ssize_t count = 0, cap = 1024;
    int64_t *pos = PyMem_RawMalloc(cap * sizeof(int64_t)), *keys = PyMem_RawMalloc(cap * sizeof(int64_t));
    failed = pos == NULL || keys == NULL;
    if (ok && !failed) {
        const uint64_t *v = values.buf;
        Py_ssize_t m = values.len / 8;
        Py_BEGIN_ALLOW_THREADS
        /* (one segment, the usual registry, gets its own copy of the loop with the count known) */
        failed = nb == 1 ? !rare_pass(v, m, 1, maps, map_bits, slots, payloads, table_bits, masks, &pos, &count, &cap, &keys)
                         : !rare_pass(v, m, nb, maps, map_bits, slots, payloads, table_bits, masks, &pos, &count, &cap, &keys);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&values);
    for (Py_ssize_t k = 0; k < nb; k++)
        PyBuffer_Release(&maps[k]);
    for (Py_ssize_t k = 0; k < ns; k++)
        PyBuffer_Release(&slots[k]);
    for (Py_ssize_t k = 0; k < np_; k++)
        PyBuffer_Release(&payloads[k]);
    if (PyErr_Occurred()) {
        PyMem_RawFree(pos);
        PyMem_RawFree(keys);
        return NULL;
    }
    PyObject *result = listed(failed, ok, "tables of a power-of-two size, one bitmap, table and payload per segment",
                              pos, count, keys, count);
    PyMem_RawFree(pos);
    PyMem_RawFree(keys);
    return result;
}


/* values[order] for 4- or 8-byte values and int64 indices, into `out`: a gather in a random
 * order (after a sort), each entry asked for AHEAD on, so that the misses overlap (NumPy's
 * gather waits on each). Indices are checked: ValueError when one is out of range. */
static PyObject *gather(PyObject *self, PyObject *args) {
    PyObject *o_values, *o_order, *o_out;
    if (!PyArg_ParseTuple(args, "OOO", &o_values, &o_order, &o_out))
        return NULL;
    Py_buffer values, order, out;
    Want want[] = {{o_values, &values, 0, 0, "values"}, {o_order, &order, 8, 0, "order"}, {o_out, &out, 0, 1, "out"}};
    if (get_all(want, 3) < 0)
        return NULL;
    Py_ssize_t size = values.itemsize, n = values.len / (size ? size : 1), m = order.len / 8;
    int ok = (size == 4 || size == 8) && out.itemsize == size && out.len == m * size;
    if (ok) {
        const int64_t *o = order.buf;
        Py_BEGIN_ALLOW_THREADS
        if (size == 8) {
            const uint64_t *v = values.buf;
            uint64_t *w = out.buf;
            for (Py_ssize_t i = 0; i < m && ok; i++) {
                if (i + AHEAD < m && (uint64_t)o[i + AHEAD] < (uint64_t)n)
                    PREFETCH(v + o[i + AHEAD], 0);
                ok = (uint64_t)o[i] < (uint64_t)n;
                w[i] = ok ? v[o[i]] : 0;
            }
        } else {
            const uint32_t *v = values.buf;
            uint32_t *w = out.buf;
            for (Py_ssize_t i = 0; i < m && ok; i++) {
                if (i + AHEAD < m && (uint64_t)o[i + AHEAD] < (uint64_t)n)
                    PREFETCH(v + o[i + AHEAD], 0);
                ok = (uint64_t)o[i] < (uint64_t)n;
                w[i] = ok ? v[o[i]] : 0;
            }
        }
        Py_END_ALLOW_THREADS
    }
    return done(want, 3, ok, "4- or 8-byte values, out like them, one per index; indices within the values");
}


static PyMethodDef METHODS[] = {
    {"ascii_hashes", ascii_hashes, METH_VARARGS, "Hashes of the tokens of an ASCII text (see normalise._ascii_hashes)."},
    {"code_point_hashes", code_point_hashes, METH_VARARGS, "Hashes of the tokens of a text of code points (see normalise._unified_hashes)."},
    {"sentence_flags", sentence_flags, METH_VARARGS, "Sentence starts (see normalise._sentence_flags)."},
    {"encoded_starts", encoded_starts, METH_VARARGS, "Where base64 and hex runs may start (see encoded._candidates)."},
    {"glued_marks", glued_marks, METH_VARARGS, "Numbers glued to words and strays (see normalise.Tokens.marks)."},
    {"cache_gather", cache_gather, METH_VARARGS, "The keyed-value cache's hits (see fingerprint.keyed.Keyer.cached)."},
    {"shingles", shingles, METH_VARARGS, "Shingles of k consecutive values (see fingerprint.shingles.shingles)."},
    {"probe", probe, METH_VARARGS, "Bits of uint64 queries in a bitmap (see fingerprint.bitmap.probe)."},
    {"pair_candidates", pair_candidates, METH_VARARGS, "Pairs of sentences that can make a rewrite candidate (see rewrite.candidates)."},
    {"gather", gather, METH_VARARGS, "values[order] of 8-byte values, prefetched ahead (see arrays.gather)."},
    {"rare_hits_many", rare_hits_many, METH_VARARGS, "Tokens that are word forms of registered rare lemmas, the first segment holding one winning."},
    {"blank_cuts", blank_cuts, METH_VARARGS,
     "Pairs of tokens that may be a word cut by a blank (see normalise.Tokens.blank_cuts)."},
    {"probe_lists", probe_lists, METH_VARARGS, "The queries that pass each of several bitmaps (see documents.lookup)."},
    {"distinct_per_run", distinct_per_run, METH_VARARGS, "Distinct values in each run (see segments._families_per_run)."},
    {"merge_sorted", merge_sorted, METH_VARARGS, "Sorted int64 values merged into a sorted int64 array (see arrays.merged)."},
    {"join_tokens", join_tokens, METH_VARARGS, "Tokens run on through the next ones (see normalise._join)."},
    {"links_and_long", links_and_long, METH_VARARGS, "One-character tokens one apart, and long tokens (see normalise._words)."},
    {"ascii_lower", ascii_lower, METH_VARARGS, "Lower-cased ASCII bytes and their classes (see normalise._ascii_lower)."},
    {"wide_codes", wide_codes, METH_VARARGS, "The distinct code points of 128 or more of a str or uint32 text (see normalise._normalise)."},
    {"utf8_offsets", utf8_offsets, METH_VARARGS, "Character offsets of byte offsets of UTF-8 text (see encoded._char_offsets)."},
    {"camel_cuts_of", camel_cuts_of, METH_VARARGS, "Glued CamelCase cuts of runs of letters and digits (see normalise._camel_cuts)."},
    {"kind_runs", kind_runs, METH_VARARGS, "Runs of letters and digits and the cuts between them (see normalise._first_cuts)."},
    {"normalise_chars", normalise_chars, METH_VARARGS, "Characters replaced by what the character table makes of them (see normalise._normalise)."},
    {"ascii_runs", ascii_runs, METH_VARARGS, "Token bounds and CamelCase humps of ASCII text (see normalise._words)."},
    {"search_sorted", search_sorted, METH_VARARGS, "numpy.searchsorted for uint64, galloping over ascending queries."},
    {"lemma_pairs", lemma_pairs, METH_VARARGS, "Pair signatures of sorted (sentence, lemma) keys (see rewrite.pairs)."},
    {"table_find", table_find, METH_VARARGS, "Payloads of queries in an open-addressing table (see fingerprint.table.lookup)."},
    {"gap_shingles", gap_shingles, METH_VARARGS, "Shingles spanning the gaps marks leave (see documents._marks_that_matter)."},
    {"half_shingles", half_shingles, METH_VARARGS,
     "Shingles holding the words of glued CamelCase pairs, or of words read without a stray (see "
     "documents._centres_that_matter)."},
    {"multimap_add", multimap_add, METH_VARARGS, "Keys and values into a multimap (see registry.PendingFingerprints)."},
    {"multimap_count", multimap_count, METH_VARARGS, "How many of some keys each value holds (see registry.PendingFingerprints)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "dlp._speedups", NULL, -1, METHODS};

PyMODINIT_FUNC PyInit__speedups(void) {
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_";
    const char *hex = "0123456789abcdefABCDEF", *sep = " \t:,;.\r\n-";
    for (const char *c = hex; *c; c++)
        CLASS[(uint8_t)*c] |= 1;
    for (const char *c = sep; *c; c++)
        CLASS[(uint8_t)*c] |= 2;
    for (const char *c = alphabet; *c; c++)
        CLASS[(uint8_t)*c] |= 4;
    for (const char *c = ".!?\n"; *c; c++)
        END_CHAR[(uint8_t)*c] = 1;
#ifdef AVX2_AT_HAND
    const char *avx2 = getenv("DLP_SPEEDUPS_AVX2");  /* "0": the SSE2 passes (tests compare the two) */
    __builtin_cpu_init();
    use_avx2 = __builtin_cpu_supports("avx2") && !(avx2 != NULL && strcmp(avx2, "0") == 0);
#endif
    return PyModule_Create(&MODULE);
}
