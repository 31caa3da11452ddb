// Regions orgplane accepts (Neon's public list) and the host names derived from them. orgplane keeps
// projects as control-plane records, so these are consistent names, not running computes.

export const REGIONS = [
  'aws-us-east-1',
  'aws-us-east-2',
  'aws-us-west-2',
  'aws-eu-central-1',
  'aws-eu-west-2',
  'aws-ap-southeast-1',
  'aws-ap-southeast-2',
  'aws-sa-east-1',
  'azure-eastus2',
  'azure-westus3',
  'azure-gwc',
] as const;
export const DEFAULT_REGION = 'aws-us-east-2';

export function isRegion(r: string): boolean {
  return (REGIONS as readonly string[]).includes(r);
}

/** 'aws-us-east-2' → 'aws' */
export function platformOf(region: string): string {
  return region.split('-')[0] ?? 'aws';
}

/** 'aws-us-east-2' → 'us-east-2.aws.neon.tech' (Neon's proxy host scheme). */
export function proxyHostOf(region: string): string {
  const platform = platformOf(region);
  return `${region.slice(platform.length + 1)}.${platform}.neon.tech`;
}

export function endpointHost(endpointId: string, region: string): string {
  return `${endpointId}.${proxyHostOf(region)}`;
}

export function poolerHost(endpointId: string, region: string): string {
  return `${endpointId}-pooler.${proxyHostOf(region)}`;
}
