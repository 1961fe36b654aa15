/* fsync.c — fsync and fdatasync: they wait for the disk (a database's
 * commit: InnoDB syncs its redo log at every transaction's commit), and the
 * kernel offers no form of them that does not. A green thread hands the call
 * to a helper OS thread (gp_offload) and parks, so the others go on meanwhile:
 * InnoDB's group commit, where one sync covers every commit that queued
 * behind it, works as it does stock; on the worker itself each commit
 * synced alone while every other thread stood still.
 *
 * Answered on the green thread: files in memory (tmpfs, ramfs: nothing to
 * wait for, where a helper's round trip would cost more than the call) and
 * fds the kernel refuses (fstatfs fails: EBADF, as fsync would say). Every
 * caller that is not managed goes to libc. */
#include "../runtime/real.h"
#include "../runtime/gp.h"

#include <errno.h>
#include <linux/magic.h>
#include <sys/vfs.h>

struct sync_call {
    int fd, data;
    int ret, err;
};

/* on a helper thread */
static void run_sync(void *p)
{
    struct sync_call *c = p;
    errno = 0;
    c->ret = c->data ? R(fdatasync)(c->fd) : R(fsync)(c->fd);
    c->err = errno;
}

/* the call may wait for a device: not a file system kept in memory */
static int may_wait(int fd)
{
    struct statfs sf;
    int saved = errno;
    int r = fstatfs(fd, &sf);
    errno = saved;
    return r == 0 && sf.f_type != TMPFS_MAGIC && sf.f_type != RAMFS_MAGIC;
}

static int offload(int fd, int data)
{
    struct sync_call c = {fd, data, 0, 0};
    gp_offload(run_sync, &c);
    if (c.ret < 0) errno = c.err;
    return c.ret;
}

GP_EXPORT int fsync(int fd)
{
    if (!GP_MANAGED() || !may_wait(fd)) return R(fsync)(fd);
    gp_test_cancel(); /* a cancellation point, as stock (a helper's call is not one) */
    return offload(fd, 0);
}

GP_EXPORT int fdatasync(int fd)
{
    if (!GP_MANAGED() || !may_wait(fd)) return R(fdatasync)(fd);
    gp_test_cancel();
    return offload(fd, 1);
}
