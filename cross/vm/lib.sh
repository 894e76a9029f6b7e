# shellcheck shell=bash
# Helpers of cross/vm-image and cross/vm-test (sourced, not run): the emulated board per architecture, booting
# it in QEMU (TCG), and commands over ssh. See docs/operations.md, "Boot test on an emulated board".

# The board: QEMU's generic `virt` machine (PL011 serial, PL031 real-time clock, virtio disk and network on PCI)
# with Debian's own kernel for the architecture.
vm_arch() {
  case "$1" in
    arm64) VM_QEMU=qemu-system-aarch64; VM_MACHINE=virt; VM_CPU=cortex-a72; VM_KERNEL_PACKAGE=linux-image-arm64
           VM_BINFMT=qemu-aarch64;;
    # LPAE kernel: the armmp one without LPAE cannot reach virt's PCI window.
    armhf) VM_QEMU=qemu-system-arm; VM_MACHINE=virt,highmem=off; VM_CPU=cortex-a15
           VM_KERNEL_PACKAGE=linux-image-armmp-lpae; VM_BINFMT=qemu-arm;;
    *) echo "vm: expected arm64 or armhf, got '$1'" >&2; return 2;;
  esac
  VM_ARCH=$1
}

# True when this host can run the board's programs itself: qemu-user (qemu-user-static) registered with
# binfmt_misc, with the F flag so that the handler works inside a chroot. Mounts binfmt_misc and enables
# Debian's registration when they are missing (root). PVFLEET_VM_STAGE2=board says no.
vm_host_runs_target() {
  local dir=/proc/sys/fs/binfmt_misc
  local entry=$dir/$VM_BINFMT
  [[ "${PVFLEET_VM_STAGE2:-auto}" != board ]] || return 1
  [[ -e "$dir/status" ]] || mount -t binfmt_misc binfmt_misc "$dir" 2>/dev/null || return 1
  if [[ ! -e "$entry" ]] && command -v update-binfmts >/dev/null; then
    update-binfmts --enable "$VM_BINFMT" >/dev/null 2>&1 || true
  fi
  [[ -e "$entry" ]] && grep -qx enabled "$entry" && grep -q '^flags:.*F' "$entry"
}

vm_cache_root() { echo "${PVFLEET_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pvfleet/vm}"; }

vm_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# vm_boot DISK FORMAT KERNEL INITRD APPEND CONSOLE_LOG MONITOR_SOCKET [SSH_PORT]
# Starts QEMU in the background (TCG, 2 vCPUs, 1 GiB) and sets VM_PID. Without SSH_PORT the board has no
# network. The monitor socket takes HMP commands (vm_monitor). VM_QEMU_EXTRA: more QEMU options. VM_DRIVE_CACHE:
# the disk's cache mode (QEMU's default, writeback, unless set; cross/vm-image's one-off install uses "unsafe").
VM_QEMU_EXTRA=()
VM_DRIVE_CACHE=""
vm_boot() {
  local disk=$1 format=$2 kernel=$3 initrd=$4 append=$5 console=$6 monitor=$7 ssh_port=${8:-}
  local net=(-nic none)
  if [[ -n "$ssh_port" ]]; then
    # User-mode networking: the host is 10.0.2.2 from the guest (its loopback), ssh forwarded to SSH_PORT.
    # romfile= : no PXE option ROM (direct kernel boot needs none, and Debian ships it in another package).
    net=(-netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$ssh_port-:22" -device virtio-net-pci,netdev=net0,romfile=)
  fi
  "$VM_QEMU" -M "$VM_MACHINE" -cpu "$VM_CPU" -smp 2 -m 1024 -nodefaults -display none \
    -serial "file:$console" -monitor "unix:$monitor,server=on,wait=off" \
    -kernel "$kernel" -initrd "$initrd" -append "$append" \
    -drive "if=none,id=root,file=$disk,format=$format${VM_DRIVE_CACHE:+,cache=$VM_DRIVE_CACHE}" -device virtio-blk-pci,drive=root \
    -device virtio-rng-pci "${net[@]}" "${VM_QEMU_EXTRA[@]}" > "$console.qemu" 2>&1 &
  VM_PID=$!
}

# vm_cpu_seconds PID LAST: the CPU time (user + system, s) QEMU has used so far, or LAST once it is gone. On a
# machine shared with other work the wall time of an emulated boot stretches; its CPU time much less so.
vm_cpu_seconds() {
  local stat
  if stat=$(cat "/proc/$1/stat" 2>/dev/null); then
    # Fields after the command name: state is the first, utime the 12th, stime the 13th.
    awk -v hz="$(getconf CLK_TCK)" '{ print int(($12 + $13) / hz) }' <<<"${stat##*) }"
  else
    echo "$2"
  fi
}

# vm_monitor SOCKET COMMAND: one HMP command (e.g. system_reset) on QEMU's monitor.
vm_monitor() {
  python3 - "$1" "$2" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(5)
s.recv(4096)                      # banner and prompt
s.sendall((sys.argv[2] + "\n").encode())
time.sleep(0.5)
s.close()
PY
}

# vm_ssh COMMAND...: runs a command on the board as root (key and port from VM_KEY, VM_SSH_PORT).
vm_ssh() {
  ssh -q -i "$VM_KEY" -p "$VM_SSH_PORT" -o BatchMode=yes -o StrictHostKeyChecking=no \
      -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10 root@127.0.0.1 "$@"
}

# vm_wait_ssh TIMEOUT_S: until the board answers over ssh (or QEMU died, or the time is up).
vm_wait_ssh() {
  local deadline=$(( $(date +%s) + $1 ))
  while (( $(date +%s) < deadline )); do
    kill -0 "$VM_PID" 2>/dev/null || return 1
    vm_ssh true 2>/dev/null && return 0
    sleep 3
  done
  return 1
}
