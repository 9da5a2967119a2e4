// Drops a written, synced range of a file from the page cache
// (posix_fadvise POSIX_FADV_DONTNEED). Node has no binding for it.
//
// Why: a backup writes gigabytes that nobody reads back soon. Kept in the page
// cache they push out what the database server and the other services on the
// host had cached, and every byte of them takes a page the kernel has to find
// first; dropped once on disk, the next writes reuse the same few pages.
#include <node_api.h>

#include <fcntl.h>

#include <cerrno>
#include <cstdint>

namespace {

// dropPageCache(fd, offset, length) -> 0, or the errno of posix_fadvise.
napi_value DropPageCache(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  int32_t fd = -1;
  int64_t offset = 0;
  int64_t length = 0;
  napi_value result;
  if (argc < 3 || napi_get_value_int32(env, args[0], &fd) != napi_ok || napi_get_value_int64(env, args[1], &offset) != napi_ok ||
      napi_get_value_int64(env, args[2], &length) != napi_ok || fd < 0 || offset < 0 || length < 0) {
    napi_throw_type_error(env, nullptr, "dropPageCache(fd, offset, length): expected three non-negative integers");
    return nullptr;
  }
  const int err = posix_fadvise(fd, off_t(offset), off_t(length), POSIX_FADV_DONTNEED);
  napi_create_int32(env, err, &result);
  return result;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "dropPageCache", NAPI_AUTO_LENGTH, DropPageCache, nullptr, &fn);
  napi_set_named_property(env, exports, "dropPageCache", fn);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
