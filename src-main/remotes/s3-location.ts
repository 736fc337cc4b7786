import { SluiceError } from '../errors/sluice-error.js';

/**
 * Where an S3-compatible remote is: `s3://BUCKET/PREFIX?endpoint=URL[&region=R][&pathStyle=true|false]`.
 * Without an endpoint it is AWS itself (virtual-host addressing, region from `region=` or us-east-1); with one
 * (Ceph, MinIO, Wasabi, B2...) addressing is path-style unless `pathStyle=false`, since self-hosted gateways
 * rarely have a wildcard DNS name per bucket. Credentials are never part of a location: a location is shown in
 * messages and saved in settings.
 */
export interface S3Location {
  bucket: string;
  /** '' or a '/'-separated prefix without leading or trailing slash: the repository's top inside the bucket. */
  prefix: string;
  endpoint: string | undefined;
  region: string;
  pathStyle: boolean;
}

export const S3_SCHEME = 's3://';

export function isS3Location(location: string): boolean {
  return location.toLowerCase().startsWith(S3_SCHEME);
}

/** The location's parts, or a VALIDATION error saying which part is wrong. */
export function parseS3Location(location: string): S3Location {
  const bad = (why: string, hint: string) =>
    new SluiceError('VALIDATION', `"${location}" is not an S3 remote: ${why}.`, {
      hint,
      context: { remote: location },
    });
  const usage = 'Write it as s3://BUCKET/PREFIX?endpoint=https://s3.example.com (endpoint optional for AWS).';
  if (!isS3Location(location)) throw bad('it does not start with s3://', usage);
  const rest = location.slice(S3_SCHEME.length);
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : rest.slice(q + 1));
  const [bucket = '', ...prefixParts] = path.split('/');
  // Bucket names as S3 defines them (3-63 of lower-case letters, digits, dots and hyphens); Ceph and MinIO
  // accept the same set.
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw bad(`"${bucket}" is not a bucket name`, usage);
  while (prefixParts.length > 0 && prefixParts[prefixParts.length - 1] === '') prefixParts.pop();
  if (prefixParts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\\')))
    throw bad('its prefix has an empty, "." or ".." part', 'Give a prefix like backups/site-a, or none.');
  for (const k of query.keys())
    if (!['endpoint', 'region', 'pathStyle'].includes(k))
      throw bad(`it has an unknown option "${k}"`, 'The options are endpoint, region and pathStyle.');
  const endpoint = query.get('endpoint') ?? undefined;
  if (endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw bad(`its endpoint "${endpoint}" is not a URL`, 'Give the endpoint as http://host:port or https://host.');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw bad(
        `its endpoint "${endpoint}" is not http or https`,
        'Give the endpoint as http://host:port or https://host.',
      );
    if (url.username || url.password)
      throw bad(
        'its endpoint carries credentials',
        'Give the keys in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (CLI) or in the remote form, never in the URL.',
      );
  }
  const pathStyleText = query.get('pathStyle');
  if (pathStyleText !== null && pathStyleText !== 'true' && pathStyleText !== 'false')
    throw bad(`pathStyle is "${pathStyleText}"`, 'pathStyle takes true or false.');
  return {
    bucket,
    prefix: prefixParts.join('/'),
    endpoint: endpoint?.replace(/\/+$/, ''),
    region: query.get('region') || 'us-east-1',
    pathStyle: pathStyleText === null ? endpoint !== undefined : pathStyleText === 'true',
  };
}

/** The location written back in its one canonical form (saved remotes, labels). */
export function formatS3Location(loc: S3Location): string {
  // Written out by hand, not by URLSearchParams: an admin reads and pastes `endpoint=http://host:port` as is.
  const query: string[] = [];
  if (loc.endpoint !== undefined) query.push(`endpoint=${loc.endpoint}`);
  if (loc.region !== 'us-east-1') query.push(`region=${encodeURIComponent(loc.region)}`);
  if (loc.pathStyle !== (loc.endpoint !== undefined)) query.push(`pathStyle=${loc.pathStyle}`);
  return `${S3_SCHEME}${loc.bucket}${loc.prefix ? `/${loc.prefix}` : ''}${query.length ? `?${query.join('&')}` : ''}`;
}
