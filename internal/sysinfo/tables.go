package sysinfo

// Names SMBIOS gives codes, as dmidecode 3.4 prints them; index 0 is
// code 1 (lookup).

// wakeUpTypes starts at code 0.
var wakeUpTypes = []string{"Reserved", "Other", "Unknown", "APM Timer", "Modem Ring", "LAN Remote",
	"Power Switch", "PCI PME#", "AC Power Restored"}

var boardTypes = []string{"Unknown", "Other", "Server Blade", "Connectivity Switch",
	"System Management Module", "Processor Module", "I/O Module", "Memory Module",
	"Daughter Board", "Motherboard", "Processor+Memory Module", "Processor+I/O Module",
	"Interconnect Board"}

var chassisTypes = []string{"Other", "Unknown", "Desktop", "Low Profile Desktop", "Pizza Box",
	"Mini Tower", "Tower", "Portable", "Laptop", "Notebook", "Hand Held", "Docking Station",
	"All In One", "Sub Notebook", "Space-saving", "Lunch Box", "Main Server Chassis",
	"Expansion Chassis", "Sub Chassis", "Bus Expansion Chassis", "Peripheral Chassis",
	"RAID Chassis", "Rack Mount Chassis", "Sealed-case PC", "Multi-system", "CompactPCI",
	"AdvancedTCA", "Blade", "Blade Enclosing", "Tablet", "Convertible", "Detachable",
	"IoT Gateway", "Embedded PC", "Mini PC", "Stick PC"}

var chassisSecurity = []string{"Other", "Unknown", "None", "External Interface Locked Out",
	"External Interface Enabled"}

var processorTypes = []string{"Other", "Unknown", "Central Processor", "Math Processor",
	"DSP Processor", "Video Processor"}

var memoryFormFactors = []string{"Other", "Unknown", "SIMM", "SIP", "Chip", "DIP", "ZIP",
	"Proprietary Card", "DIMM", "TSOP", "Row Of Chips", "RIMM", "SODIMM", "SRIMM", "FB-DIMM", "Die"}

var memoryTypes = []string{"Other", "Unknown", "DRAM", "EDRAM", "VRAM", "SRAM", "RAM", "ROM",
	"Flash", "EEPROM", "FEPROM", "EPROM", "CDRAM", "3DRAM", "SDRAM", "SGRAM", "RDRAM", "DDR",
	"DDR2", "DDR2 FB-DIMM", "Reserved", "Reserved", "Reserved", "DDR3", "FBD2", "DDR4", "LPDDR",
	"LPDDR2", "LPDDR3", "LPDDR4", "Logical non-volatile device", "HBM", "HBM2", "DDR5", "LPDDR5"}

// memoryTypeDetails are bits 1 to 15 of the type detail word.
var memoryTypeDetails = []string{"Other", "Unknown", "Fast-paged", "Static Column",
	"Pseudo-static", "RAMBus", "Synchronous", "CMOS", "EDO", "Window DRAM", "Cache DRAM",
	"Non-Volatile", "Registered (Buffered)", "Unbuffered (Unregistered)", "LRDIMM"}

// structureTypes names structure types 0 to 46 (chassis contained
// elements).
var structureTypes = []string{"BIOS", "System", "Base Board", "Chassis", "Processor",
	"Memory Controller", "Memory Module", "Cache", "Port Connector", "System Slots",
	"On Board Devices", "OEM Strings", "System Configuration Options", "BIOS Language",
	"Group Associations", "System Event Log", "Physical Memory Array", "Memory Device",
	"32-bit Memory Error", "Memory Array Mapped Address", "Memory Device Mapped Address",
	"Built-in Pointing Device", "Portable Battery", "System Reset", "Hardware Security",
	"System Power Controls", "Voltage Probe", "Cooling Device", "Temperature Probe",
	"Electrical Current Probe", "Out-of-band Remote Access", "Boot Integrity Services",
	"System Boot", "64-bit Memory Error", "Management Device", "Management Device Component",
	"Management Device Threshold Data", "Memory Channel", "IPMI Device", "Power Supply",
	"Additional Information", "Onboard Device", "Management Controller Host Interface",
	"TPM Device", "Processor", "Firmware", "String Property"}

func structureTypeName(code byte) string {
	if int(code) < len(structureTypes) {
		return structureTypes[code]
	}
	if code >= 128 {
		return "OEM-specific"
	}
	return "<OUT OF SPEC>"
}
