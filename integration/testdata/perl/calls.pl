#!/usr/bin/perl
# Exercises, through Sys::Virt (Debian's libsys-virt-perl), the calls a
# Perl script makes on a QEMU connection: node and host queries, the
# older list calls, and the calls on a running guest. Prints one line per
# call, "NAME ok" or "NAME error CODE" (libvirt's error number), so two
# daemons' outputs can be compared line by line; a call whose result is
# checked here prints "NAME wrong: WHY" when it comes back wrong.
# Usage: calls.pl URI GUEST-XML-FILE (a guest with a 64 MiB raw disk vda
# starting with the bytes GVPL)
use strict;
use warnings;
use Sys::Virt;
use Sys::Virt::Domain;

my ($uri, $xmlfile) = @ARGV;
open(my $fh, '<', $xmlfile) or die "$xmlfile: $!";
my $xml = do { local $/; <$fh> };
close($fh);
my ($name) = $xml =~ m{<name>([^<]+)</name>};

my $conn = Sys::Virt->new(uri => $uri);

sub call {
    my ($label, $code, $check) = @_;
    my @r = eval { $code->() };
    if ($@) {
        my $e = $@;
        my $c = ref($e) && $e->can('code') ? $e->code : 'perl';
        print "$label error $c\n";
        print STDERR "$label: ", (ref($e) && $e->can('message') ? $e->message : $e), "\n";
        return;
    }
    if ($check) {
        my $why = $check->(@r);
        if ($why) { print "$label wrong: $why\n"; return }
    }
    print "$label ok\n";
}

# Host and node.
call('get_node_info', sub { $conn->get_node_info() }, sub { $_[0]->{cpus} > 0 ? '' : 'no cpus' });
call('get_node_cpu_stats', sub { $conn->get_node_cpu_stats() }, sub { defined $_[0]->{kernel} ? '' : 'no kernel time' });
call('get_node_memory_stats', sub { $conn->get_node_memory_stats() }, sub { $_[0]->{total} > 0 ? '' : 'no total' });
call('get_node_free_memory', sub { $conn->get_node_free_memory() }, sub { $_[0] > 0 ? '' : 'none free' });
call('get_node_cells_free_memory', sub { $conn->get_node_cells_free_memory(0, 1) }, sub { $_[0] > 0 ? '' : 'cell 0 empty' });
call('get_node_free_pages', sub { $conn->get_node_free_pages([4], 0, 1) });
call('get_node_cpu_map', sub { $conn->get_node_cpu_map() });
call('get_node_security_model', sub { $conn->get_node_security_model() });
call('get_capabilities', sub { $conn->get_capabilities() }, sub { $_[0] =~ m{<host>\s*<uuid>[0-9a-f-]{36}</uuid>} ? '' : 'no host uuid' });
call('get_domain_capabilities', sub { $conn->get_domain_capabilities(undef, 'x86_64', undef, 'qemu') });
# Sys::Virt returns undef rather than dying when the host has no SMBIOS
# tables (libvirt's "Host SMBIOS information is not available").
call('get_sysinfo', sub { $conn->get_sysinfo() // die "undef\n" }, sub { $_[0] =~ /<sysinfo type='smbios'>/ ? '' : 'no smbios sysinfo' });
call('get_hostname', sub { $conn->get_hostname() });
call('get_max_vcpus', sub { $conn->get_max_vcpus('kvm') });
call('get_version', sub { $conn->get_version() });
call('get_library_version', sub { $conn->get_library_version() });
call('get_cpu_model_names', sub { $conn->get_cpu_model_names('x86_64') }, sub { scalar(@_) > 10 ? '' : 'few models' });
call('get_node_memory_parameters', sub { $conn->get_node_memory_parameters() });

# The older list calls and the newer ones, every object kind.
for my $m (qw(num_of_domains num_of_defined_domains num_of_networks num_of_defined_networks
              num_of_storage_pools num_of_defined_storage_pools num_of_interfaces
              num_of_defined_interfaces num_of_secrets num_of_nwfilters)) {
    call($m, sub { $conn->$m() });
}
call('num_of_node_devices', sub { $conn->num_of_node_devices(undef) });
for my $m (qw(list_domains list_defined_domains list_networks list_defined_networks
              list_storage_pools list_defined_storage_pools list_interfaces
              list_defined_interfaces list_secrets list_nwfilters
              list_all_domains list_all_networks list_all_storage_pools list_all_interfaces
              list_all_secrets list_all_nwfilters list_all_node_devices)) {
    call($m, sub { $conn->$m() });
}
call('list_node_devices', sub { $conn->list_node_devices(undef) });

# A running guest.
my $dom;
call('create_domain', sub { $dom = $conn->create_domain($xml) });
exit 1 unless $dom;

call('get_info', sub { $dom->get_info() }, sub { $_[0]->{state} == Sys::Virt::Domain::STATE_RUNNING ? '' : "state $_[0]->{state}" });
call('get_state', sub { $dom->get_state() });
call('get_control_info', sub { $dom->get_control_info() }, sub { $_[0]->{state} == Sys::Virt::Domain::CONTROL_OK ? '' : 'not ok' });
call('get_id', sub { $dom->get_id() }, sub { $_[0] > 0 ? '' : 'no id' });
call('get_uuid_string', sub { $dom->get_uuid_string() });
call('get_os_type', sub { $dom->get_os_type() }, sub { $_[0] eq 'hvm' ? '' : $_[0] });
call('get_max_memory', sub { $dom->get_max_memory() });
call('get_max_vcpus', sub { $dom->get_max_vcpus() });
call('get_vcpus', sub { $dom->get_vcpus() });
call('get_vcpu_info', sub { $dom->get_vcpu_info() });
call('get_emulator_pin_info', sub { $dom->get_emulator_pin_info() });
call('get_iothread_info', sub { $dom->get_iothread_info() });
call('get_cpu_stats_total', sub { $dom->get_cpu_stats(-1, 1) });
call('get_cpu_stats_per_cpu', sub { $dom->get_cpu_stats(0, 1) });
call('get_scheduler_type', sub { $dom->get_scheduler_type() });
call('get_scheduler_parameters', sub { $dom->get_scheduler_parameters() });
call('get_memory_parameters', sub { $dom->get_memory_parameters() });
call('get_blkio_parameters', sub { $dom->get_blkio_parameters() });
call('get_numa_parameters', sub { $dom->get_numa_parameters() });
call('get_perf_events', sub { $dom->get_perf_events() });
call('memory_stats', sub { $dom->memory_stats() });
call('get_block_info', sub { $dom->get_block_info('vda') }, sub { $_[0]->{capacity} == 64 * 1024 * 1024 ? '' : "capacity $_[0]->{capacity}" });
call('block_stats', sub { $dom->block_stats('vda') });
call('get_block_iotune', sub { $dom->get_block_iotune('vda') });
call('block_peek', sub { $dom->block_peek('vda', 0, 4) }, sub { $_[0] eq 'GVPL' ? '' : 'not the marker the test wrote' });
call('memory_peek', sub { $dom->memory_peek(0, 64, Sys::Virt::Domain::MEMORY_PHYSICAL) }, sub { length($_[0]) == 64 ? '' : 'short' });
call('block_resize', sub { $dom->block_resize('vda', 128 * 1024 * 1024, Sys::Virt::Domain::BLOCK_RESIZE_BYTES) });
call('get_block_info_resized', sub { $dom->get_block_info('vda') }, sub { $_[0]->{capacity} == 128 * 1024 * 1024 ? '' : "capacity $_[0]->{capacity}" });
call('get_disk_errors', sub { $dom->get_disk_errors() });
call('get_interface_addresses_lease', sub { $dom->get_interface_addresses(Sys::Virt::Domain::INTERFACE_ADDRESSES_SRC_LEASE) });
call('get_interface_addresses_arp', sub { $dom->get_interface_addresses(Sys::Virt::Domain::INTERFACE_ADDRESSES_SRC_ARP) });
call('set_metadata_description', sub { $dom->set_metadata(Sys::Virt::Domain::METADATA_DESCRIPTION, 'a perl guest', undef, undef, Sys::Virt::Domain::AFFECT_LIVE) });
call('get_metadata_description', sub { $dom->get_metadata(Sys::Virt::Domain::METADATA_DESCRIPTION, undef, Sys::Virt::Domain::AFFECT_LIVE) }, sub { $_[0] eq 'a perl guest' ? '' : $_[0] });
call('set_metadata_element', sub { $dom->set_metadata(Sys::Virt::Domain::METADATA_ELEMENT, '<app n="1"/>', 'pl', 'http://example.org/perl', Sys::Virt::Domain::AFFECT_LIVE) });
call('get_metadata_element', sub { $dom->get_metadata(Sys::Virt::Domain::METADATA_ELEMENT, 'http://example.org/perl', Sys::Virt::Domain::AFFECT_LIVE) }, sub { $_[0] =~ /<app n="1"\/>/ ? '' : $_[0] });
call('send_key', sub { $dom->send_key(Sys::Virt::Domain::KEYCODE_SET_LINUX, 50, [29, 56, 59]) });
call('inject_nmi', sub { $dom->inject_nmi(0) });
call('get_security_label', sub { $dom->get_security_label() });
call('get_job_info', sub { $dom->get_job_info() });
call('get_job_stats', sub { $dom->get_job_stats() });
call('get_launch_security_info', sub { $dom->get_launch_security_info() });
call('set_lifecycle_action', sub { $dom->set_lifecycle_action(Sys::Virt::Domain::LIFECYCLE_POWEROFF, Sys::Virt::Domain::LIFECYCLE_ACTION_DESTROY, Sys::Virt::Domain::AFFECT_LIVE) });
call('get_autostart', sub { $dom->get_autostart() });
call('has_managed_save_image', sub { $dom->has_managed_save_image() });
call('get_messages', sub { $dom->get_messages() });
call('list_all_snapshots', sub { $dom->list_all_snapshots() });
call('list_all_checkpoints', sub { $dom->list_all_checkpoints() });
call('get_all_domain_stats', sub { $conn->get_all_domain_stats(0, [$dom]) });
# These need the guest agent, which the guest lacks: libvirt's error.
call('get_time', sub { $dom->get_time() });
call('set_user_password', sub { $dom->set_user_password('root', 'x') });
call('get_fs_info', sub { $dom->get_fs_info() });
call('get_hostname_agent', sub { $dom->get_hostname(Sys::Virt::Domain::GET_HOSTNAME_AGENT) });
call('get_guest_info', sub { $dom->get_guest_info(0) });

call('destroy', sub { $dom->destroy() });
call('get_state_after', sub { $dom->get_state() }, sub { $_[0] == Sys::Virt::Domain::STATE_SHUTOFF ? '' : "state $_[0]" });
