/*
 * store/keyfile.c - the master key: creating and reading key files, parsing hex keys.
 *
 * Design:     a key file holds exactly 32 random bytes (libsodium's randombytes_buf) and is
 *             created with O_CREAT|O_EXCL and mode 0600, so an existing key is never replaced
 *             (replacing it would make every stored secret unreadable). Reading refuses a file
 *             group or others may access, a symlink (O_NOFOLLOW) and any size but 32, each with
 *             a message that says how to fix it. The same key may come from
 *             $HOOPSYNC_MASTER_KEY as 64 hex characters (store.c decides which source wins).
 * Invariants: key bytes on the stack are wiped before returning; nothing here logs.
 * Not here:   deriving the per-workspace key and sealing values (secret.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "store/store_int.h"

int hs_store_keyfile_create(const char *path, struct hs_error *err)
{
    if (path == NULL || path[0] == '\0')
        return hs_error_set(err, HS_EINVAL, "cannot create key file: empty path");
    if (sodium_init() < 0)
        return hs_error_set(err, HS_ECRYPTO, "cannot create key file '%s': libsodium failed", path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        if (e == EEXIST)
            return hs_error_set(err, HS_EEXIST,
                                "cannot create key file '%s': it already exists (refusing to "
                                "overwrite a key: secrets sealed with it would be lost)",
                                path);
        return hs_error_set(err, HS_EIO, "cannot create key file '%s': %s", path, strerror(e));
    }
    uint8_t key[HS_STORE_KEY_BYTES];
    randombytes_buf(key, sizeof key);
    size_t done = 0;
    int rc = HS_OK;
    /* umask may have removed bits from 0600 but never adds any; set it exactly anyway. */
    if (fchmod(fd, 0600) != 0)
        rc = hs_error_set(err, HS_EIO, "cannot create key file '%s': chmod: %s", path,
                          strerror(errno));
    while (rc == HS_OK && done < sizeof key) {
        ssize_t w = write(fd, key + done, sizeof key - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = hs_error_set(err, HS_EIO, "cannot write key file '%s': %s", path,
                              w < 0 ? strerror(errno) : "short write");
            break;
        }
        done += (size_t)w;
    }
    sodium_memzero(key, sizeof key);
    if (rc == HS_OK && fsync(fd) != 0)
        rc = hs_error_set(err, HS_EIO, "cannot sync key file '%s': %s", path, strerror(errno));
    if (close(fd) != 0 && rc == HS_OK)
        rc = hs_error_set(err, HS_EIO, "cannot close key file '%s': %s", path, strerror(errno));
    if (rc != HS_OK)
        unlink(path);
    return rc;
}

int hs_store_keyfile_load(const char *path, uint8_t out[HS_STORE_KEY_BYTES], struct hs_error *err)
{
    if (path == NULL || path[0] == '\0')
        return hs_error_set(err, HS_EINVAL, "cannot read key file: empty path");
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP)
            return hs_error_set(err, HS_ECRYPTO,
                                "cannot read key file '%s': it is a symbolic link (refused)", path);
        return hs_error_set(err, e == ENOENT ? HS_ENOTFOUND : HS_EIO,
                            "cannot read key file '%s': %s", path, strerror(e));
    }
    struct stat st;
    int rc = HS_OK;
    if (fstat(fd, &st) != 0) {
        rc = hs_error_set(err, HS_EIO, "cannot read key file '%s': %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = hs_error_set(err, HS_ECRYPTO, "cannot read key file '%s': not a regular file", path);
    } else if ((st.st_mode & 077) != 0) {
        rc = hs_error_set(err, HS_ECRYPTO,
                          "cannot read key file '%s': its mode %04o lets group or others read "
                          "it (run: chmod 600 '%s')",
                          path, (unsigned)(st.st_mode & 07777), path);
    } else if (st.st_size != HS_STORE_KEY_BYTES) {
        rc = hs_error_set(err, HS_ECRYPTO,
                          "cannot read key file '%s': it holds %lld bytes, a key is %d", path,
                          (long long)st.st_size, HS_STORE_KEY_BYTES);
    }
    size_t done = 0;
    while (rc == HS_OK && done < HS_STORE_KEY_BYTES) {
        ssize_t r = read(fd, out + done, HS_STORE_KEY_BYTES - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = hs_error_set(err, HS_EIO, "cannot read key file '%s': %s", path,
                              r < 0 ? strerror(errno) : "file shrank while reading");
            break;
        }
        done += (size_t)r;
    }
    close(fd);
    if (rc != HS_OK)
        sodium_memzero(out, HS_STORE_KEY_BYTES);
    return rc;
}

int hs_store_keyfile_from_hex(const char *hex, const char *what, uint8_t out[HS_STORE_KEY_BYTES],
                              struct hs_error *err)
{
    size_t len = strlen(hex);
    size_t bin_len = 0;
    if (len != HS_STORE_KEY_HEX ||
        sodium_hex2bin(out, HS_STORE_KEY_BYTES, hex, len, NULL, &bin_len, NULL) != 0 ||
        bin_len != HS_STORE_KEY_BYTES) {
        sodium_memzero(out, HS_STORE_KEY_BYTES);
        return hs_error_set(err, HS_ECRYPTO,
                            "invalid master key in %s: expected %d hex characters (%d bytes), "
                            "got %zu characters",
                            what, HS_STORE_KEY_HEX, HS_STORE_KEY_BYTES, len);
    }
    return HS_OK;
}
