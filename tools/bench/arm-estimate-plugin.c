/* QEMU TCG plugin for tools/bench/arm-estimate: counts how often each translated block
 * runs, and at exit writes one line per block that ran:
 *     VADDR COUNT SNAP1 .. SNAPn HEX:HEX:...   (the block's instructions' bytes, one each)
 * so that the instruction mix and a per-block cycle model can be worked out offline
 * (llvm-mc disassembles the bytes, llvm-mca models each block). The counter is an inline
 * add per block execution (no callback), so the guest runs at close to normal TCG speed.
 * mark=HEX names one instruction (its bytes): every time a block holding it runs, all
 * counters are snapshotted (SNAP1.., up to MAX_SNAPS; the first line, "# snapshots n",
 * says how many were taken), so a program can bracket the work to count with it.
 * Single-threaded guests: inline adds are not atomic.
 *   qemu-aarch64 -plugin arm-estimate-plugin.so,out=FILE,mark=5f2b03d5 PROGRAM ...
 * Built against QEMU's plugin ABI version 1 (QEMU 7.x, Debian 12's qemu-user); the few
 * declarations it needs are below, so no QEMU headers are needed to build it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
#define EXPORT __attribute__((visibility("default")))
#define QEMU_PLUGIN_INLINE_ADD_U64 0

EXPORT int qemu_plugin_version = 1;
EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const void *info, int argc, char **argv);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
                                           void (*cb)(qemu_plugin_id_t,
                                                      struct qemu_plugin_tb *));
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb,
                                          void (*cb)(unsigned int vcpu, void *userdata),
                                          int flags, void *userdata);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, int op, void *ptr,
                                              uint64_t imm);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id,
                                    void (*cb)(qemu_plugin_id_t, void *), void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);

/* A block: its address and bytes (a block retranslated with the same bytes shares the
   counter), the counter the inline op adds to. Entries never move once made, since the
   translated code holds the counter's address. */
#define MAX_SNAPS 8
struct block {
    uint64_t vaddr, count, hash;
    uint64_t snap[MAX_SNAPS];
    size_t n_insns, n_bytes;
    uint8_t *sizes, *bytes;
    struct block *next;
};

#define BUCKETS (1u << 16)
static struct block *table[BUCKETS];
static const char *out_path = "arm-estimate.blocks";
static uint8_t mark[16];
static size_t mark_len;
static int n_snaps;

static void on_mark(unsigned int vcpu, void *u)
{
    (void)vcpu, (void)u;
    if (n_snaps == MAX_SNAPS)
        return;
    for (unsigned k = 0; k < BUCKETS; k++)
        for (struct block *b = table[k]; b; b = b->next)
            b->snap[n_snaps] = b->count;
    n_snaps++;
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void on_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb), total = 0;
    for (size_t i = 0; i < n; i++)
        total += qemu_plugin_insn_size(qemu_plugin_tb_get_insn(tb, i));
    uint8_t *bytes = malloc(total ? total : 1), *sizes = malloc(n ? n : 1);
    if (!bytes || !sizes)
        abort();
    size_t at = 0;
    int marked = 0;
    for (size_t i = 0; i < n; i++) {
        const struct qemu_plugin_insn *in = qemu_plugin_tb_get_insn(tb, i);
        size_t s = qemu_plugin_insn_size(in);
        memcpy(bytes + at, qemu_plugin_insn_data(in), s);
        marked |= mark_len && s == mark_len && !memcmp(bytes + at, mark, s);
        sizes[i] = (uint8_t)s;
        at += s;
    }
    uint64_t vaddr = qemu_plugin_tb_vaddr(tb);
    uint64_t h = fnv(fnv(1469598103934665603ull, (const uint8_t *)&vaddr, sizeof vaddr),
                     bytes, total);
    struct block **slot = &table[h & (BUCKETS - 1)], *b;
    for (b = *slot; b; b = b->next)
        if (b->hash == h && b->vaddr == vaddr && b->n_bytes == total && b->n_insns == n &&
            !memcmp(b->bytes, bytes, total))
            break;
    if (b) {
        free(bytes);
        free(sizes);
    } else {
        if (!(b = calloc(1, sizeof *b)))
            abort();
        *b = (struct block){.vaddr = vaddr, .hash = h, .n_insns = n, .n_bytes = total,
                            .sizes = sizes, .bytes = bytes, .next = *slot};
        *slot = b;
    }
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->count, 1);
    if (marked)
        qemu_plugin_register_vcpu_tb_exec_cb(tb, on_mark, 0, NULL);
}

static void on_exit_(qemu_plugin_id_t id, void *u)
{
    (void)id, (void)u;
    FILE *f = fopen(out_path, "w");
    if (!f) {
        fprintf(stderr, "arm-estimate-plugin: cannot write %s\n", out_path);
        return;
    }
    fprintf(f, "# snapshots %d\n", n_snaps);
    for (unsigned k = 0; k < BUCKETS; k++)
        for (struct block *b = table[k]; b; b = b->next) {
            if (!b->count)
                continue;
            fprintf(f, "%llx %llu ", (unsigned long long)b->vaddr,
                    (unsigned long long)b->count);
            for (int i = 0; i < n_snaps; i++)
                fprintf(f, "%llu ", (unsigned long long)b->snap[i]);
            size_t at = 0;
            for (size_t i = 0; i < b->n_insns; i++) {
                if (i)
                    fputc(':', f);
                for (size_t j = 0; j < b->sizes[i]; j++)
                    fprintf(f, "%02x", b->bytes[at + j]);
                at += b->sizes[i];
            }
            fputc('\n', f);
        }
    fclose(f);
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const void *info, int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "out=", 4))
            out_path = argv[i] + 4;
        if (!strncmp(argv[i], "mark=", 5))
            for (const char *p = argv[i] + 5; p[0] && p[1] && mark_len < sizeof mark; p += 2)
                mark[mark_len++] = (uint8_t)strtoul((char[3]){p[0], p[1], 0}, NULL, 16);
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_trans);
    qemu_plugin_register_atexit_cb(id, on_exit_, NULL);
    return 0;
}
