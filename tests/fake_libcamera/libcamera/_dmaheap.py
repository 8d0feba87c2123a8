"""The kernel side of picamera2's default buffer allocator, without /dev/dma_heap.

picamera2's ``DmaAllocator`` (pure Python) allocates every frame buffer from ``/dev/dma_heap/*`` with
an ioctl, maps it with ``mmap`` and brackets CPU access with ``DMA_BUF_IOCTL_SYNC``. Here the heap
hands out ``memfd`` buffers instead (same fd, size and mmap semantics) and the sync ioctl is accepted
on them; the rest of picamera2's allocator code runs unchanged. ``install()`` puts both in place when
picamera2 imports ``picamera2.dma_heap`` and ``picamera2.allocators.dmaallocator``.
"""

from __future__ import annotations

import fcntl as _fcntl
import importlib.abc
import os
import sys
import types


class MemfdHeap:
    """``picamera2.dma_heap.DmaHeap`` over memfd: ``alloc(name, size) -> UniqueFD``, ``close()``."""

    def __init__(self):
        from picamera2.dma_heap import UniqueFD

        self._unique_fd = UniqueFD
        self._handle = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)  # stands for the heap device

    @property
    def isValid(self):
        return self._handle >= 0

    def alloc(self, name, size):
        fd = os.memfd_create(name, os.MFD_CLOEXEC)
        os.ftruncate(fd, size)
        return self._unique_fd(fd)

    def close(self):
        if self._handle >= 0:
            os.close(self._handle)
            self._handle = -1


def _sync_accepting_fcntl(sync_request: int):
    def ioctl(fd, request, arg=0, mutate_flag=True):
        if request == sync_request:
            os.fstat(fd)  # a closed fd still fails, as it would on a dma-buf
            return 0
        return _fcntl.ioctl(fd, request, arg, mutate_flag)

    return types.SimpleNamespace(ioctl=ioctl)


def _patch_dma_heap(module):
    module.DmaHeap = MemfdHeap


def _patch_dmaallocator(module):
    module.fcntl = _sync_accepting_fcntl(module.DMA_BUF_IOCTL_SYNC)


_PATCHES = {"picamera2.dma_heap": _patch_dma_heap, "picamera2.allocators.dmaallocator": _patch_dmaallocator}


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader, patch):
        self._loader, self._patch = loader, patch

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        self._patch(module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        patch = _PATCHES.get(name)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                spec.loader = _PatchingLoader(spec.loader, patch)
                return spec
        return None


def install() -> None:
    if any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    for name, patch in _PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
    sys.meta_path.insert(0, _Finder())
