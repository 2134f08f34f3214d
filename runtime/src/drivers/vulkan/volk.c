/* volk, the Vulkan meta-loader, as Debian's libvulkan-volk-dev ships it:
   a header and this one source file, compiled into the Vulkan driver. */
#include <volk.c>
