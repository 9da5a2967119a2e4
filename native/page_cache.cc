// dropPageCache(fd, offset, length): posix_fadvise(POSIX_FADV_DONTNEED) on a
// written, synced range of a file, which Node has no binding for. Why: see
// src/store/page-cache.ts.
#include <node_api.h>

#include <fcntl.h>

#include <cerrno>
#include <cstdint>

namespace {

// Returns 0, or the errno of posix_fadvise (ENOSYS where the platform has no DONTNEED).
napi_value DropPageCache(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  int32_t fd = -1;
  int64_t offset = 0;
  int64_t length = 0;
  if (argc < 3 || napi_get_value_int32(env, args[0], &fd) != napi_ok || napi_get_value_int64(env, args[1], &offset) != napi_ok ||
      napi_get_value_int64(env, args[2], &length) != napi_ok || fd < 0 || offset < 0 || length < 0) {
    napi_throw_type_error(env, nullptr, "dropPageCache(fd, offset, length): expected three non-negative integers");
    return nullptr;
  }
#ifdef POSIX_FADV_DONTNEED
  const int err = posix_fadvise(fd, off_t(offset), off_t(length), POSIX_FADV_DONTNEED);
#else
  const int err = ENOSYS;
#endif
  napi_value result;
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
