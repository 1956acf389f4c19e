# Opskeeper Windows probe: reads the host and returns one result object. Read-only: nothing
# here changes the host. Each section catches its own errors, so a missing cmdlet (Defender
# removed by a third-party antivirus, say) costs that section only; the controller turns a
# section's "error" into an error row for its checks.
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [string[]]$RequiredServices = @()
)

$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false

function ConvertTo-UtcText([datetime]$When) {
    $When.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ')
}

function Invoke-Section([scriptblock]$Body) {
    try {
        & $Body
    }
    catch {
        @{ error = "$($_.Exception.Message)" }
    }
}

$os = $null
$osError = $null
try {
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
}
catch {
    $osError = "$($_.Exception.Message)"
}

$result = [ordered]@{
    probe_version = 1
    computer_name = $env:COMPUTERNAME
    now_utc = ConvertTo-UtcText (Get-Date)
}

$result.os = Invoke-Section {
    if ($osError) { throw $osError }
    [ordered]@{
        caption = $os.Caption
        version = $os.Version
        build = $os.BuildNumber
        last_boot_utc = ConvertTo-UtcText $os.LastBootUpTime
    }
}

$result.memory = Invoke-Section {
    if ($osError) { throw $osError }
    [ordered]@{
        total_kb = [int64]$os.TotalVisibleMemorySize
        free_kb = [int64]$os.FreePhysicalMemory
    }
}

$result.volumes = Invoke-Section {
    $disks = Get-CimInstance -ClassName Win32_LogicalDisk -Filter 'DriveType = 3'
    @{
        items = @($disks | ForEach-Object {
            [ordered]@{
                name = $_.DeviceID
                label = $_.VolumeName
                file_system = $_.FileSystem
                size_bytes = [int64]$_.Size
                free_bytes = [int64]$_.FreeSpace
            }
        })
    }
}

$result.services = Invoke-Section {
    @{
        items = @($RequiredServices | ForEach-Object {
            $service = Get-Service -Name $_ -ErrorAction SilentlyContinue
            if ($null -eq $service) {
                [ordered]@{ name = $_; present = $false }
            }
            else {
                [ordered]@{
                    name = $service.Name
                    display_name = $service.DisplayName
                    present = $true
                    status = "$($service.Status)"
                    start_type = "$($service.StartType)"
                }
            }
        })
    }
}

$result.firewall = Invoke-Section {
    @{
        items = @(Get-NetFirewallProfile | ForEach-Object {
            # Enabled is a GpoBoolean: True, False or NotConfigured (which Windows treats as on).
            [ordered]@{ name = "$($_.Name)"; enabled = "$($_.Enabled)" }
        })
    }
}

$result.defender = Invoke-Section {
    $status = Get-MpComputerStatus
    [ordered]@{
        antivirus_enabled = [bool]$status.AntivirusEnabled
        realtime_enabled = [bool]$status.RealTimeProtectionEnabled
        signature_version = "$($status.AntivirusSignatureVersion)"
        signature_updated_utc = ConvertTo-UtcText $status.AntivirusSignatureLastUpdated
    }
}

$result.admins = Invoke-Section {
    # By SID: the group's name is localised ("Administratoren" on a German Windows).
    try {
        $members = @(Get-LocalGroupMember -SID 'S-1-5-32-544' | ForEach-Object {
            [ordered]@{
                name = "$($_.Name)"
                sid = "$($_.SID)"
                object_class = "$($_.ObjectClass)"
                source = "$($_.PrincipalSource)"
            }
        })
    }
    catch {
        # Get-LocalGroupMember fails on members whose SID no longer resolves; ADSI does not.
        $sidType = [System.Security.Principal.SecurityIdentifier]
        $group = $sidType::new('S-1-5-32-544').Translate(
            [System.Security.Principal.NTAccount]).Value.Split('\')[-1]
        $members = @(([ADSI]"WinNT://./$group,group").Invoke('Members') | ForEach-Object {
            $type = $_.GetType()
            # WinNT://CORP/jdoe, WinNT://WORKGROUP/PC-0101/helpdesk or WinNT://S-1-5-21-...
            $parts = ($type.InvokeMember('ADsPath', 'GetProperty', $null, $_, $null) -replace '^WinNT://', '').Split('/')
            $name = if ($parts.Count -ge 2) { $parts[-2] + '\' + $parts[-1] } else { $parts[0] }
            $sid = $sidType::new($type.InvokeMember('objectSid', 'GetProperty', $null, $_, $null), 0)
            [ordered]@{
                name = $name
                sid = "$sid"
                object_class = $type.InvokeMember('Class', 'GetProperty', $null, $_, $null)
                source = 'ADSI'
            }
        })
    }
    @{ items = $members }
}

$Ansible.Result = $result
