/*
 * powercutfs: a FUSE filesystem that forgets, at a simulated power cut, everything that was not
 * made durable by fsync/fdatasync. Used by Spool's power-loss test (test/durability/).
 *
 *   powercutfs <disk-dir> <mountpoint>
 *
 * One flat directory (no subdirectories). Two states are kept:
 *
 *   volatile  what programs see through the mount: the directory (name -> inode) and every
 *             file's full contents, in this process's memory (the "page cache");
 *   durable   <disk-dir>: `objects/<id>` holds each file's contents as of its last
 *             fsync/fdatasync, and `directory` lists name -> id as of the last fsync of the
 *             directory (the "disk").
 *
 * What moves volatile state to durable state:
 *   fsync(file) / fdatasync(file)  that file's contents and size (dirty 512-byte sectors are
 *                                  written, then the object is truncated to the size);
 *   fsync(directory)               the whole name -> file mapping (creations, unlinks, renames).
 * Nothing else does: write, ftruncate, create, unlink, rename, close, munmap and writeback of
 * mmapped pages only change volatile state. A file created and fsynced whose directory was never
 * fsynced is gone after a cut; an unlink or rename not followed by a directory fsync is undone.
 *
 * The power cut: SIGUSR1 ("drop") or SIGUSR2 ("torn") makes a control thread take the request
 * lock (so the request being served, an fsync included, finishes first: a sync is atomic with
 * respect to the cut), then exit without writing anything more ("drop"), or after writing a
 * random subset of the dirty sectors of files already on disk and, with even odds, the current
 * directory ("torn": writes the disk happened to flush by itself before the power went). Exiting
 * closes /dev/fuse, the kernel aborts the connection, and every later operation on the mount
 * fails (ENOTCONN) until it is unmounted; whatever the programs still do reaches nothing. A new
 * powercutfs on the same <disk-dir> then "boots" from the durable state.
 *
 * mmap: the kernel's page cache serves MAP_SHARED mappings (SQLite's -shm wal-index) and writes
 * dirty pages back with ordinary writes, which land in volatile state like any other write; they
 * are not durable unless the file is fsynced (SQLite never fsyncs -shm, and rebuilds it from the
 * WAL when the first connection opens after a crash).
 *
 * POSIX locks (fcntl) are not implemented here, so the kernel keeps them locally, which is right
 * for processes on one machine.
 */
#define FUSE_USE_VERSION 34
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define SECTOR 512
#define ROOT_INO 1

struct inode {
	fuse_ino_t ino;
	uint64_t id;          /* durable object id: objects/<id> */
	mode_t mode;          /* S_IFREG | permissions */
	unsigned char *data;  /* volatile contents */
	size_t size, cap;
	uint64_t *dirty;      /* one bit per SECTOR: differs (or may differ) from the object */
	size_t dirty_words;
	int size_dirty;       /* size changed since the last sync */
	int linked;           /* present in the volatile directory */
	uint64_t opens;
	struct timespec mtime, ctime;
	struct inode *next_all;
};

struct entry {
	char *name;
	struct inode *inode;
};

static char disk_dir[PATH_MAX];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *entries;
static size_t entry_count, entry_cap;
static struct inode *all_inodes;
static fuse_ino_t next_ino = 2;
static uint64_t next_id = 1;
static struct timespec root_time;
static int verbose;
static uint64_t stats_syncs, stats_dirsyncs, stats_writes;

static void die(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "powercutfs: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	_exit(2);
}

static void now(struct timespec *ts) { clock_gettime(CLOCK_REALTIME, ts); }

static void object_path(char *out, size_t len, uint64_t id) {
	snprintf(out, len, "%s/objects/%llu", disk_dir, (unsigned long long)id);
}

/* ---- volatile state ------------------------------------------------------------------------ */

static struct inode *inode_new(uint64_t id, mode_t mode) {
	struct inode *in = calloc(1, sizeof *in);
	if (!in) die("out of memory");
	in->ino = next_ino++;
	in->id = id;
	in->mode = mode;
	now(&in->mtime);
	in->ctime = in->mtime;
	in->next_all = all_inodes;
	all_inodes = in;
	return in;
}

static struct inode *inode_by_ino(fuse_ino_t ino) {
	for (struct inode *in = all_inodes; in; in = in->next_all)
		if (in->ino == ino) return in;
	return NULL;
}

static void release_if_unused(struct inode *in) {
	/* The struct stays (ino numbers are never reused); the contents go. */
	if (!in->linked && in->opens == 0) {
		free(in->data);
		free(in->dirty);
		in->data = NULL;
		in->dirty = NULL;
		in->size = in->cap = in->dirty_words = 0;
	}
}

static void mark_dirty(struct inode *in, size_t from, size_t to) {
	if (to <= from) return;
	size_t last = (to - 1) / SECTOR;
	size_t words = last / 64 + 1;
	if (words > in->dirty_words) {
		size_t grown = in->dirty_words ? in->dirty_words : 16;
		while (grown < words) grown *= 2;
		in->dirty = realloc(in->dirty, grown * sizeof(uint64_t));
		if (!in->dirty) die("out of memory");
		memset(in->dirty + in->dirty_words, 0, (grown - in->dirty_words) * sizeof(uint64_t));
		in->dirty_words = grown;
	}
	for (size_t s = from / SECTOR; s <= last; s++) in->dirty[s / 64] |= 1ULL << (s % 64);
}

static int sector_dirty(const struct inode *in, size_t s) {
	return s / 64 < in->dirty_words && (in->dirty[s / 64] >> (s % 64)) & 1;
}

static void reserve(struct inode *in, size_t size) {
	if (size <= in->cap) return;
	size_t cap = in->cap ? in->cap : 65536;
	while (cap < size) cap *= 2;
	in->data = realloc(in->data, cap);
	if (!in->data) die("out of memory");
	memset(in->data + in->cap, 0, cap - in->cap);
	in->cap = cap;
}

static void resize(struct inode *in, size_t size) {
	if (size == in->size) return;
	size_t lo = size < in->size ? size : in->size, hi = size < in->size ? in->size : size;
	reserve(in, size);
	if (size < in->size) memset(in->data + size, 0, in->size - size);
	/* Bytes between the two sizes now read as zeros (or are gone): the object may disagree. */
	mark_dirty(in, lo, hi);
	in->size = size;
	in->size_dirty = 1;
}

static struct entry *find_entry(const char *name) {
	for (size_t i = 0; i < entry_count; i++)
		if (strcmp(entries[i].name, name) == 0) return &entries[i];
	return NULL;
}

static void add_entry(const char *name, struct inode *in) {
	if (entry_count == entry_cap) {
		entry_cap = entry_cap ? entry_cap * 2 : 16;
		entries = realloc(entries, entry_cap * sizeof *entries);
		if (!entries) die("out of memory");
	}
	entries[entry_count].name = strdup(name);
	entries[entry_count].inode = in;
	entry_count++;
	in->linked = 1;
}

static void remove_entry(struct entry *e) {
	struct inode *in = e->inode;
	free(e->name);
	*e = entries[--entry_count];
	in->linked = 0;
	now(&in->ctime);
	release_if_unused(in);
}

/* ---- durable state ------------------------------------------------------------------------- */

static int write_all(int fd, const void *buf, size_t len, off_t off) {
	const unsigned char *p = buf;
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR) continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Writes the sectors chosen by `pick` (all dirty ones for a sync) of `in` to its object. */
static int write_object(struct inode *in, int (*pick)(void), int truncate_to_size) {
	char path[PATH_MAX + 32];
	object_path(path, sizeof path, in->id);
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	if (fd < 0) return -errno;
	int rc = 0;
	size_t sectors = (in->size + SECTOR - 1) / SECTOR;
	for (size_t s = 0; s < sectors && rc == 0; s++) {
		if (!sector_dirty(in, s) || (pick && !pick())) continue;
		size_t run = s;
		while (run + 1 < sectors && sector_dirty(in, run + 1) && (!pick || pick())) run++;
		size_t from = s * SECTOR, to = (run + 1) * SECTOR;
		if (to > in->size) to = in->size;
		rc = write_all(fd, in->data + from, to - from, (off_t)from);
		s = run;
	}
	if (rc == 0 && truncate_to_size && ftruncate(fd, (off_t)in->size) < 0) rc = -errno;
	close(fd);
	return rc;
}

/* fsync/fdatasync of a file: its contents and size become durable. */
static int sync_inode(struct inode *in) {
	int rc = write_object(in, NULL, 1);
	if (rc == 0) {
		if (in->dirty) memset(in->dirty, 0, in->dirty_words * sizeof(uint64_t));
		in->size_dirty = 0;
		stats_syncs++;
	}
	return rc;
}

/* fsync of the directory: the name -> object mapping becomes durable (written atomically). */
static int sync_directory(void) {
	char tmp[PATH_MAX + 32], path[PATH_MAX + 32];
	snprintf(tmp, sizeof tmp, "%s/directory.tmp", disk_dir);
	snprintf(path, sizeof path, "%s/directory", disk_dir);
	FILE *f = fopen(tmp, "w");
	if (!f) return -errno;
	fprintf(f, "powercutfs 1 %llu\n", (unsigned long long)next_id);
	for (size_t i = 0; i < entry_count; i++) {
		struct inode *in = entries[i].inode;
		char obj[PATH_MAX + 32];
		object_path(obj, sizeof obj, in->id);
		/* A file never fsynced is on disk with no contents. */
		if (access(obj, F_OK) != 0) {
			int fd = open(obj, O_WRONLY | O_CREAT, 0644);
			if (fd >= 0) close(fd);
		}
		fprintf(f, "%llu %o %s\n", (unsigned long long)in->id, (unsigned)(in->mode & 07777),
		        entries[i].name);
	}
	if (fclose(f) != 0) return -errno;
	if (rename(tmp, path) != 0) return -errno;
	stats_dirsyncs++;
	return 0;
}

/* Boot: the volatile state starts as the durable one; objects nobody names are deleted. */
static void load(void) {
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/objects", disk_dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/directory", disk_dir);
	FILE *f = fopen(path, "r");
	if (f) {
		unsigned long long stored_next = 0;
		if (fscanf(f, "powercutfs 1 %llu\n", &stored_next) != 1) die("%s: bad header", path);
		next_id = stored_next;
		unsigned long long id;
		unsigned mode;
		char name[NAME_MAX + 1];
		while (fscanf(f, "%llu %o %255[^\n]\n", &id, &mode, name) == 3) {
			struct inode *in = inode_new(id, S_IFREG | mode);
			char obj[PATH_MAX + 32];
			object_path(obj, sizeof obj, id);
			int fd = open(obj, O_RDONLY);
			if (fd >= 0) {
				struct stat st;
				if (fstat(fd, &st) != 0) die("fstat %s: %s", obj, strerror(errno));
				reserve(in, (size_t)st.st_size);
				size_t done = 0;
				while (done < (size_t)st.st_size) {
					ssize_t n = pread(fd, in->data + done, (size_t)st.st_size - done, (off_t)done);
					if (n <= 0) die("read %s: %s", obj, strerror(errno));
					done += (size_t)n;
				}
				in->size = (size_t)st.st_size;
				close(fd);
			}
			add_entry(name, in);
			if (id >= next_id) next_id = id + 1;
		}
		fclose(f);
	}
	/* Garbage: objects of files whose directory entry never reached the disk. */
	snprintf(path, sizeof path, "%s/objects", disk_dir);
	DIR *d = opendir(path);
	if (!d) die("opendir %s: %s", path, strerror(errno));
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.') continue;
		unsigned long long id = strtoull(de->d_name, NULL, 10);
		int named = 0;
		for (size_t i = 0; i < entry_count; i++)
			if (entries[i].inode->id == id) named = 1;
		if (!named) {
			char obj[PATH_MAX + 32];
			object_path(obj, sizeof obj, id);
			unlink(obj);
		} else if (id >= next_id) {
			next_id = id + 1;
		}
	}
	closedir(d);
}

/* ---- the power cut ------------------------------------------------------------------------- */

static uint64_t rng_state;
static int coin(void) {
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (int)(rng_state & 1);
}

static void *cut_thread(void *arg) {
	sigset_t *set = arg;
	int sig;
	if (sigwait(set, &sig) != 0) die("sigwait failed");
	/* Waits for the request being served; no other request starts after this. */
	pthread_mutex_lock(&lock);
	if (sig == SIGUSR2) {
		struct timespec ts;
		now(&ts);
		rng_state = (uint64_t)ts.tv_nsec * 2654435761u + (uint64_t)getpid() + 1;
		size_t torn_files = 0;
		for (size_t i = 0; i < entry_count; i++) {
			struct inode *in = entries[i].inode;
			char obj[PATH_MAX + 32];
			object_path(obj, sizeof obj, in->id);
			/* Only files already on disk can have stray sectors land in them. */
			if (access(obj, F_OK) == 0 && in->dirty && write_object(in, coin, 0) == 0) torn_files++;
		}
		int directory = coin();
		if (directory) sync_directory();
		fprintf(stderr, "powercutfs: power cut (torn: %zu files got random unsynced sectors%s)\n",
		        torn_files, directory ? ", directory written" : "");
	} else if (verbose) {
		fprintf(stderr, "powercutfs: power cut (all unsynced writes dropped)\n");
	}
	if (verbose)
		fprintf(stderr, "powercutfs: %llu writes, %llu file syncs, %llu directory syncs\n",
		        (unsigned long long)stats_writes, (unsigned long long)stats_syncs,
		        (unsigned long long)stats_dirsyncs);
	_exit(0);
}

/* ---- FUSE operations ----------------------------------------------------------------------- */

static const double attr_timeout = 1.0;

static void fill_stat(struct stat *st, const struct inode *in) {
	memset(st, 0, sizeof *st);
	st->st_ino = in->ino;
	st->st_mode = in->mode;
	st->st_nlink = in->linked ? 1 : 0;
	st->st_size = (off_t)in->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((in->size + 511) / 512);
	st->st_mtim = in->mtime;
	st->st_ctim = in->ctime;
	st->st_atim = in->mtime;
}

static void fill_root(struct stat *st) {
	memset(st, 0, sizeof *st);
	st->st_ino = ROOT_INO;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_mtim = st->st_ctim = st->st_atim = root_time;
}

static void reply_entry(fuse_req_t req, struct inode *in) {
	struct fuse_entry_param e;
	memset(&e, 0, sizeof e);
	e.ino = in->ino;
	e.attr_timeout = attr_timeout;
	e.entry_timeout = attr_timeout;
	fill_stat(&e.attr, in);
	fuse_reply_entry(req, &e);
}

#define LOCKED(body)                      \
	do {                                  \
		pthread_mutex_lock(&lock);        \
		body;                             \
		pthread_mutex_unlock(&lock);      \
	} while (0)

static void op_init(void *userdata, struct fuse_conn_info *conn) {
	(void)userdata;
	/* Writes must reach this process at write(2), not sit in the kernel: no writeback cache. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
	LOCKED({
		struct entry *e = parent == ROOT_INO ? find_entry(name) : NULL;
		if (!e)
			fuse_reply_err(req, ENOENT);
		else
			reply_entry(req, e->inode);
	});
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
	(void)fi;
	LOCKED({
		struct stat st;
		if (ino == ROOT_INO) {
			fill_root(&st);
			fuse_reply_attr(req, &st, attr_timeout);
		} else {
			struct inode *in = inode_by_ino(ino);
			if (!in) {
				fuse_reply_err(req, ENOENT);
			} else {
				fill_stat(&st, in);
				fuse_reply_attr(req, &st, attr_timeout);
			}
		}
	});
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi) {
	(void)fi;
	LOCKED({
		struct inode *in = inode_by_ino(ino);
		if (ino == ROOT_INO) {
			struct stat st;
			fill_root(&st);
			fuse_reply_attr(req, &st, attr_timeout);
		} else if (!in) {
			fuse_reply_err(req, ENOENT);
		} else {
			if (to_set & FUSE_SET_ATTR_SIZE) {
				resize(in, (size_t)attr->st_size);
				now(&in->mtime);
			}
			if (to_set & FUSE_SET_ATTR_MODE) in->mode = S_IFREG | (attr->st_mode & 07777);
			if (to_set & FUSE_SET_ATTR_MTIME) in->mtime = attr->st_mtim;
			if (to_set & FUSE_SET_ATTR_MTIME_NOW) now(&in->mtime);
			/* Owners are not kept (everything belongs to root); chown succeeds. */
			now(&in->ctime);
			struct stat st;
			fill_stat(&st, in);
			fuse_reply_attr(req, &st, attr_timeout);
		}
	});
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
	LOCKED({
		struct inode *in = inode_by_ino(ino);
		if (!in) {
			fuse_reply_err(req, ENOENT);
		} else {
			if (fi->flags & O_TRUNC) resize(in, 0);
			in->opens++;
			fi->fh = ino;
			fi->keep_cache = 0;
			fi->direct_io = 0;
			fuse_reply_open(req, fi);
		}
	});
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi) {
	LOCKED({
		if (parent != ROOT_INO) {
			fuse_reply_err(req, ENOENT);
		} else if (strlen(name) > NAME_MAX || strchr(name, '\n')) {
			fuse_reply_err(req, ENAMETOOLONG);
		} else {
			struct entry *e = find_entry(name);
			struct inode *in;
			if (e && (fi->flags & O_EXCL)) {
				in = NULL;
				fuse_reply_err(req, EEXIST);
			} else {
				if (e) {
					in = e->inode;
					if (fi->flags & O_TRUNC) resize(in, 0);
				} else {
					in = inode_new(next_id++, S_IFREG | (mode & 07777));
					add_entry(name, in);
					root_time = in->ctime;
				}
				in->opens++;
				fi->fh = in->ino;
				struct fuse_entry_param ep;
				memset(&ep, 0, sizeof ep);
				ep.ino = in->ino;
				ep.attr_timeout = attr_timeout;
				ep.entry_timeout = attr_timeout;
				fill_stat(&ep.attr, in);
				fuse_reply_create(req, &ep, fi);
			}
		}
	});
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
	(void)rdev;
	LOCKED({
		if (parent != ROOT_INO || !S_ISREG(mode)) {
			fuse_reply_err(req, EPERM);
		} else if (find_entry(name)) {
			fuse_reply_err(req, EEXIST);
		} else {
			struct inode *in = inode_new(next_id++, S_IFREG | (mode & 07777));
			add_entry(name, in);
			reply_entry(req, in);
		}
	});
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
	(void)fi;
	LOCKED({
		struct inode *in = inode_by_ino(ino);
		if (!in) {
			fuse_reply_err(req, ENOENT);
		} else if ((size_t)off >= in->size) {
			fuse_reply_buf(req, NULL, 0);
		} else {
			size_t n = in->size - (size_t)off;
			if (n > size) n = size;
			fuse_reply_buf(req, (const char *)in->data + off, n);
		}
	});
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi) {
	LOCKED({
		struct inode *in = inode_by_ino(ino);
		if (!in) {
			fuse_reply_err(req, ENOENT);
		} else {
			if (fi->flags & O_APPEND) off = (off_t)in->size;
			size_t end = (size_t)off + size;
			reserve(in, end);
			if (end > in->size) {
				mark_dirty(in, in->size, end);
				in->size = end;
				in->size_dirty = 1;
			}
			memcpy(in->data + off, buf, size);
			mark_dirty(in, (size_t)off, end);
			now(&in->mtime);
			stats_writes++;
			fuse_reply_write(req, size);
		}
	});
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
	(void)ino;
	(void)fi;
	/* close(2) makes nothing durable. */
	fuse_reply_err(req, 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
	(void)fi;
	LOCKED({
		struct inode *in = inode_by_ino(ino);
		if (in && in->opens > 0) {
			in->opens--;
			release_if_unused(in);
		}
		fuse_reply_err(req, 0);
	});
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
	(void)datasync;
	(void)fi;
	LOCKED({
		struct inode *in = inode_by_ino(ino);
		int rc = in ? sync_inode(in) : -ENOENT;
		if (verbose > 1) fprintf(stderr, "powercutfs: fsync ino %lu: %d\n", (unsigned long)ino, rc);
		fuse_reply_err(req, -rc);
	});
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
	if (ino != ROOT_INO)
		fuse_reply_err(req, ENOTDIR);
	else
		fuse_reply_open(req, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
	(void)fi;
	(void)ino;
	LOCKED({
		char *buf = malloc(size);
		size_t used = 0;
		/* Offsets: 0 ".", 1 "..", 2.. the entries. */
		for (off_t i = off; buf; i++) {
			struct stat st;
			memset(&st, 0, sizeof st);
			const char *name;
			if (i == 0) {
				name = ".";
				st.st_ino = ROOT_INO;
				st.st_mode = S_IFDIR;
			} else if (i == 1) {
				name = "..";
				st.st_ino = ROOT_INO;
				st.st_mode = S_IFDIR;
			} else if ((size_t)(i - 2) < entry_count) {
				name = entries[i - 2].name;
				st.st_ino = entries[i - 2].inode->ino;
				st.st_mode = S_IFREG;
			} else {
				break;
			}
			size_t need = fuse_add_direntry(req, buf + used, size - used, name, &st, i + 1);
			if (need > size - used) break;
			used += need;
		}
		if (!buf)
			fuse_reply_err(req, ENOMEM);
		else
			fuse_reply_buf(req, buf, used);
		free(buf);
	});
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
	(void)ino;
	(void)datasync;
	(void)fi;
	LOCKED({
		int rc = sync_directory();
		if (verbose > 1) fprintf(stderr, "powercutfs: fsync directory: %d\n", rc);
		fuse_reply_err(req, -rc);
	});
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) {
	LOCKED({
		struct entry *e = parent == ROOT_INO ? find_entry(name) : NULL;
		if (!e) {
			fuse_reply_err(req, ENOENT);
		} else {
			remove_entry(e);
			now(&root_time);
			fuse_reply_err(req, 0);
		}
	});
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags) {
	LOCKED({
		struct entry *from = parent == ROOT_INO ? find_entry(name) : NULL;
		struct entry *to = newparent == ROOT_INO ? find_entry(newname) : NULL;
		if (!from || newparent != ROOT_INO) {
			fuse_reply_err(req, ENOENT);
		} else if (flags & ~RENAME_NOREPLACE) {
			fuse_reply_err(req, EINVAL);
		} else if (to && (flags & RENAME_NOREPLACE)) {
			fuse_reply_err(req, EEXIST);
		} else if (from == to) {
			fuse_reply_err(req, 0);
		} else {
			struct inode *in = from->inode;
			if (to) {
				/* Unlinking may move `from` in the array: find it again. */
				remove_entry(to);
				from = find_entry(name);
			}
			free(from->name);
			from->name = strdup(newname);
			now(&in->ctime);
			now(&root_time);
			fuse_reply_err(req, 0);
		}
	});
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
	(void)parent;
	(void)name;
	(void)mode;
	fuse_reply_err(req, EPERM);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino) {
	(void)ino;
	struct statvfs st;
	memset(&st, 0, sizeof st);
	st.f_bsize = 4096;
	st.f_frsize = 4096;
	st.f_blocks = 1 << 24;
	st.f_bfree = 1 << 23;
	st.f_bavail = 1 << 23;
	st.f_files = 1 << 20;
	st.f_ffree = 1 << 19;
	st.f_namemax = NAME_MAX;
	fuse_reply_statfs(req, &st);
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.open = op_open,
	.create = op_create,
	.mknod = op_mknod,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.unlink = op_unlink,
	.rename = op_rename,
	.mkdir = op_mkdir,
	.statfs = op_statfs,
};

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: powercutfs <disk-dir> <mountpoint> [-v|-vv]\n");
		return 2;
	}
	if (!realpath(argv[1], disk_dir)) die("%s: %s", argv[1], strerror(errno));
	if (argc > 3) verbose = strcmp(argv[3], "-vv") == 0 ? 2 : 1;
	now(&root_time);
	load();

	/* The cut arrives as a signal, handled by a thread of its own under the request lock. */
	static sigset_t cut_signals;
	sigemptyset(&cut_signals);
	sigaddset(&cut_signals, SIGUSR1);
	sigaddset(&cut_signals, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &cut_signals, NULL);
	pthread_t cutter;
	if (pthread_create(&cutter, NULL, cut_thread, &cut_signals) != 0) die("pthread_create failed");

	char *fargv[] = {argv[0], "-o", "fsname=powercutfs,subtype=powercutfs", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof ops, NULL);
	if (!se) die("fuse_session_new failed");
	if (fuse_session_mount(se, argv[2]) != 0) die("cannot mount on %s", argv[2]);
	printf("mounted %s\n", argv[2]);
	fflush(stdout);
	/* Single-threaded: one request at a time, which the cut thread's lock relies on. */
	int rc = fuse_session_loop(se);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	return rc ? 1 : 0;
}
